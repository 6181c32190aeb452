"""``/v2.0/ports/{id}/bindings``: a port's bindings per host, as Neutron serves them.

GET lists them, POST creates one (INACTIVE, or ACTIVE on an unbound port),
``PUT .../{host}/activate`` makes one ACTIVE and ``DELETE .../{host}``
removes an INACTIVE one. A binding document has Neutron's shape: ``host``,
``vif_type``, ``vif_details``, ``profile``, ``vnic_type`` and ``status``.
"""

from __future__ import annotations

from typing import Any

import webob

from naas_lib import exceptions as exc
from naas_lib import objects
from naas_lib.api import params
from naas_lib.api.controllers import json_response
from naas_lib.context import RequestContext
from naas_lib.service import NetworkService

#: The only vNIC type the library serves.
VNIC_NORMAL = "normal"
_CREATE_KEYS = frozenset({"host", "vnic_type", "profile"})


def binding_doc(binding: objects.PortBinding) -> dict[str, Any]:
    """The wire document of one binding."""
    doc = binding.to_dict()
    return {"host": doc["host"], "vif_type": doc["vif_type"], "vif_details": doc["vif_details"],
            "profile": doc["profile"], "vnic_type": VNIC_NORMAL, "status": doc["status"]}


class BindingsController:
    """The bindings sub-collection of ports: one verb -> one service call."""

    def __init__(self, service: NetworkService, max_body: int) -> None:
        self.service = service
        self.max_body = max_body

    def index(self, request: webob.Request, ctx: RequestContext, port_id: str
              ) -> webob.Response:
        host = request.GET.get("host")
        status = request.GET.get("status")
        found = self.service.list_port_bindings(ctx, port_id, host=host, status=status)
        return json_response({"bindings": [binding_doc(b) for b in found]})

    def create(self, request: webob.Request, ctx: RequestContext, port_id: str
               ) -> webob.Response:
        document = params.read_json(request, self.max_body)
        body = document.get("binding") if isinstance(document, dict) else None
        if not isinstance(body, dict) or set(document) != {"binding"}:
            raise exc.InvalidInput(field="binding", reason='the body is {"binding": {...}}')
        unknown = set(body) - _CREATE_KEYS
        if unknown:
            raise exc.InvalidInput(field=sorted(unknown)[0], reason="not a binding attribute")
        if body.get("vnic_type", VNIC_NORMAL) != VNIC_NORMAL:
            raise exc.InvalidInput(field="vnic_type", reason=f"only {VNIC_NORMAL!r} is served")
        if not isinstance(body.get("host"), str) or not body["host"]:
            raise exc.InvalidInput(field="host", reason="required")
        created = self.service.create_port_binding(ctx, port_id, body["host"],
                                                   profile=body.get("profile"))
        return json_response({"binding": binding_doc(created)}, 201)

    def activate(self, ctx: RequestContext, port_id: str, host: str) -> webob.Response:
        binding = self.service.activate_port_binding(ctx, port_id, host)
        return json_response({"binding": binding_doc(binding)})

    def delete(self, ctx: RequestContext, port_id: str, host: str) -> webob.Response:
        self.service.delete_port_binding(ctx, port_id, host)
        return webob.Response(status=204)
