"""Collection controllers: one HTTP verb of a Neutron collection -> one service call.

A controller knows a resource's wire names and its service methods and
nothing else; the service decides what is valid and who may do it.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import webob

from naas_lib import wire
from naas_lib.api import params
from naas_lib.context import RequestContext
from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)


def json_response(body: Any, status: int = 200) -> webob.Response:
    return webob.Response(status=status, json_body=body, content_type="application/json",
                          charset="utf-8")


class Controller:
    """Networks and subnets; ports extend it with attach semantics."""

    def __init__(self, service: NetworkService, resource: str, collection: str,
                 max_limit: int, max_body: int) -> None:
        self.service = service
        self.resource = resource
        self.collection = collection
        self.max_limit = max_limit
        self.max_body = max_body

    def _call(self, verb: str) -> Callable[..., Any]:
        name = f"{verb}_{self.collection}" if verb == "list" else f"{verb}_{self.resource}"
        return getattr(self.service, name)

    def to_wire(self, obj: Any, wire_fields: list[str] | None = None) -> dict[str, Any]:
        doc = wire.to_wire(self.resource, obj)
        if wire_fields:
            doc = {k: v for k, v in doc.items() if k in wire_fields}
        return doc

    # -- reads ---------------------------------------------------------------

    def index(self, request: webob.Request, ctx: RequestContext) -> webob.Response:
        q = params.list_query(request, self.resource, self.max_limit)
        fields = q.fields
        if fields is not None and "id" not in fields:
            fields = [*fields, "id"]  # paging links need every item's id
        fetch = q.limit + 1 if q.limit else None
        items = self._call("list")(ctx, fields=fields, limit=fetch, marker=q.marker,
                                   sorts=q.sorts, page_reverse=q.page_reverse, **q.filters)
        more = fetch is not None and len(items) > q.limit
        if more:
            items = items[1:] if q.page_reverse else items[:-1]
        body: dict[str, Any] = {self.collection: [self.to_wire(i, q.wire_fields)
                                                  for i in items]}
        if q.limit:
            links = self._links(request, items, q, more)
            if links:
                body[f"{self.collection}_links"] = links
        return json_response(body)

    def _links(self, request: webob.Request, items: list, q: params.ListQuery,
               more: bool) -> list[dict[str, str]]:
        """Neutron-style ``next``/``previous`` links around the page just served."""
        if not items:
            return []
        kept = [(k, v) for k, v in request.GET.items()
                if k not in ("marker", "page_reverse", "limit")]

        def link(rel: str, marker: str, reverse: bool) -> dict[str, str]:
            query = [*kept, ("limit", str(q.limit)), ("marker", marker)]
            if reverse:
                query.append(("page_reverse", "True"))
            return {"rel": rel, "href": f"{request.path_url}?{urllib.parse.urlencode(query)}"}

        first, last = items[0]["id"], items[-1]["id"]
        links = []
        # Forward paging: more after the page -> next; a marker means a page before it.
        # Reverse paging mirrors that.
        has_next = more if not q.page_reverse else q.marker is not None
        has_prev = q.marker is not None if not q.page_reverse else more
        if has_next:
            links.append(link("next", last, False))
        if has_prev:
            links.append(link("previous", first, True))
        return links

    def show(self, request: webob.Request, ctx: RequestContext, rid: str) -> webob.Response:
        wire_fields = [f for f in request.GET.getall("fields") if f] or None
        fields = wire.fields_from_wire(self.resource, wire_fields) if wire_fields else None
        obj = self._call("get")(ctx, rid, fields=fields)
        return json_response({self.resource: self.to_wire(obj, wire_fields)})

    # -- writes --------------------------------------------------------------

    def create(self, request: webob.Request, ctx: RequestContext) -> webob.Response:
        bodies, bulk = params.unwrap(params.read_json(request, self.max_body),
                                     self.resource, self.collection)
        attrs = [wire.attrs_from_wire(self.resource, b) for b in bodies]
        created = self.create_many(ctx, attrs) if bulk else [self.create_one(ctx, attrs[0])]
        docs = [self.to_wire(o) for o in created]
        if bulk:
            return json_response({self.collection: docs}, 201)
        return json_response({self.resource: docs[0]}, 201)

    def create_one(self, ctx: RequestContext, attrs: dict[str, Any]) -> Any:
        return self._call("create")(ctx, **attrs)

    def create_many(self, ctx: RequestContext, items: list[dict[str, Any]]) -> list[Any]:
        """All or nothing: on a failure the ones already made are deleted again."""
        done: list[Any] = []
        try:
            for attrs in items:
                done.append(self.create_one(ctx, attrs))
        except Exception:
            self.undo_creates(ctx, done)
            raise
        return done

    def undo_creates(self, ctx: RequestContext, done: list[Any]) -> None:
        for obj in reversed(done):
            try:
                self._call("delete")(ctx.elevated(), obj.id)
            except Exception:
                LOG.exception("Could not undo creation of %s %s", self.resource, obj.id)

    def update(self, request: webob.Request, ctx: RequestContext, rid: str) -> webob.Response:
        revision = params.expected_revision(request)
        bodies, _ = params.unwrap(params.read_json(request, self.max_body), self.resource, None)
        attrs = wire.attrs_from_wire(self.resource, bodies[0])
        obj = self.update_one(ctx, rid, revision, attrs)
        return json_response({self.resource: self.to_wire(obj)})

    def update_one(self, ctx: RequestContext, rid: str, revision: int | None,
                   attrs: dict[str, Any]) -> Any:
        return self._call("update")(ctx, rid, expected_revision=revision, **attrs)

    def delete(self, request: webob.Request, ctx: RequestContext, rid: str) -> webob.Response:
        revision = params.expected_revision(request)
        self._call("delete")(ctx, rid, expected_revision=revision)
        response = webob.Response(status=204)
        response.content_type = None
        return response
