"""Request decoding: JSON bodies, list query parameters and ``If-Match``.

Only the shape of HTTP input is handled here (JSON, wrappers, query-string
types); what a value means is checked by the service, which names the field.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import webob

from naas_lib import exceptions as exc
from naas_lib import validation, wire
from naas_lib.api.errors import HTTPError

# Filter values arrive as strings; these attributes are compared as other types.
_BOOLEAN_FILTERS = {"admin_state_up", "shared", "enable_dhcp", "port_security_enabled"}
_INTEGER_FILTERS = {"mtu", "segmentation_id", "revision_number", "ip_version",
                    "port_range_min", "port_range_max"}
_MAX_FILTER_INT = 2**31 - 1
_CONTROL = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
_IF_MATCH = re.compile(r"^\s*revision_number=(\d{1,18})\s*$")


def read_json(request: webob.Request, max_size: int) -> Any:
    """The request's JSON document; 413 when larger than ``max_size`` bytes."""
    length = request.content_length
    if length is not None and length > max_size:
        raise HTTPError(413, "HTTPRequestEntityTooLarge",
                        f"Request body is {length} bytes; the limit is {max_size}.")
    raw = request.body_file.read(max_size + 1)
    if len(raw) > max_size:
        raise HTTPError(413, "HTTPRequestEntityTooLarge",
                        f"Request body is larger than the limit of {max_size} bytes.")
    if not raw.strip():
        raise HTTPError(400, "HTTPBadRequest", "The request body is empty; expected JSON.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise HTTPError(400, "HTTPBadRequest", f"Malformed JSON in request body: {e}") from None


def unwrap(document: Any, singular: str, plural: str | None) -> tuple[list[dict], bool]:
    """The resource bodies of a request and whether it was a bulk request.

    ``{"port": {...}}`` is one resource; ``{"ports": [{...}, ...]}`` (only
    where ``plural`` is given) is a bulk request.
    """
    if not isinstance(document, dict):
        raise HTTPError(400, "HTTPBadRequest", "The request body must be a JSON object.")
    if plural is not None and plural in document:
        items = document[plural]
        if set(document) != {plural}:
            raise HTTPError(400, "HTTPBadRequest",
                            f"Unexpected keys next to '{plural}' in the request body.")
        if not isinstance(items, list) or not items:
            raise HTTPError(400, "HTTPBadRequest",
                            f"'{plural}' must be a non-empty list of objects.")
        if not all(isinstance(i, dict) for i in items):
            raise HTTPError(400, "HTTPBadRequest", f"Each entry of '{plural}' must be an object.")
        return items, True
    if singular not in document:
        raise HTTPError(400, "HTTPBadRequest",
                        f"Unable to find '{singular}' in the request body.")
    if set(document) != {singular}:
        extra = sorted(set(document) - {singular})
        raise HTTPError(400, "HTTPBadRequest", f"Unexpected keys in the request body: {extra}.")
    if not isinstance(document[singular], dict):
        raise HTTPError(400, "HTTPBadRequest", f"'{singular}' must be a JSON object.")
    return [document[singular]], False


def expected_revision(request: webob.Request) -> int | None:
    """The revision an ``If-Match: revision_number=N`` header requires, if any."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    m = _IF_MATCH.match(header)
    if not m:
        raise HTTPError(400, "HTTPBadRequest",
                        "If-Match must be 'revision_number=N' with N a revision number.")
    return int(m.group(1))


@dataclasses.dataclass
class ListQuery:
    """A list request's parameters in the service's terms."""

    filters: dict[str, Any]
    fields: list[str] | None
    wire_fields: list[str] | None
    limit: int | None
    marker: str | None
    sorts: list[tuple[str, bool]]
    page_reverse: bool


def _filter_value(name: str, value: str) -> Any:
    if name in _BOOLEAN_FILTERS:
        return validation.boolean(name, value)
    if name in _INTEGER_FILTERS:
        return validation.integer(name, value, -_MAX_FILTER_INT, _MAX_FILTER_INT)
    return validation.lookup(name, value)


def _fixed_ips_filter(values: list[str]) -> list[dict[str, str]]:
    entries = []
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or key not in ("subnet_id", "ip_address") or not val:
            raise exc.InvalidInput(field="fixed_ips",
                                   reason="filter is fixed_ips=subnet_id=ID or "
                                          "fixed_ips=ip_address=ADDRESS")
        entries.append({key: validation.lookup("fixed_ips", val)})
    return entries


def list_query(request: webob.Request, resource: str, max_limit: int) -> ListQuery:
    """Decode filters, ``fields``, paging and sorting of a list request."""
    params = request.GET
    filters: dict[str, Any] = {}
    for wire_key in params:
        if wire_key in _CONTROL or wire_key in filters:
            continue
        values = params.getall(wire_key)
        name = wire.attr_name(resource, wire_key)
        if resource == wire.PORT and name == "fixed_ips":
            filters[name] = _fixed_ips_filter(values)
            continue
        if name == "tenant_id":
            name = "project_id"
        converted = [_filter_value(wire_key, v) for v in values]
        filters[name] = converted[0] if len(converted) == 1 else converted
    wire_fields = [f for f in params.getall("fields") if f] or None
    fields = wire.fields_from_wire(resource, wire_fields) if wire_fields else None
    limit = None
    if "limit" in params:
        limit = validation.integer("limit", params["limit"], 0, 2**31 - 1)
        limit = min(limit, max_limit) if limit else None
    marker = params.get("marker") or None
    if marker is not None:
        validation.lookup("marker", marker)
    keys = params.getall("sort_key")
    dirs = params.getall("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise exc.InvalidInput(field="sort_dir", reason="give one sort_dir per sort_key")
    sorts = []
    for i, key in enumerate(keys):
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise exc.InvalidInput(field="sort_dir", reason=f"{direction!r} is not asc or desc")
        name = "project_id" if key == "tenant_id" else wire.attr_name(resource, key)
        sorts.append((name, direction == "asc"))
    page_reverse = validation.boolean("page_reverse", params.get("page_reverse", False))
    return ListQuery(filters, fields, wire_fields, limit, marker, sorts, page_reverse)
