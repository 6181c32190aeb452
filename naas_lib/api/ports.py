"""The ports collection, where Neutron's binding attributes mean attach and detach.

On the wire a port is attached when it has both a ``device_id`` and a
``binding:host_id``: a create or update that gives it both attaches it
(``NetworkService.attach_port`` with ``instance_id = device_id`` and
``host = binding:host_id``); an update that empties either detaches it.
The attachment's ``interface_id`` is the port id, the convention Nova
follows for a VIF's id, so one port has one stable interface id.
Deleting an attached port is refused by the service (409 PortInUse).
"""

from __future__ import annotations

import logging
from typing import Any

from naas_lib import exceptions as exc
from naas_lib import objects
from naas_lib.api.controllers import Controller
from naas_lib.context import RequestContext

LOG = logging.getLogger(__name__)

#: What a failed attach puts back of the update that came with it.
_REVERTIBLE = ("name", "description", "admin_state_up", "device_id", "device_owner",
               "binding_profile")


def _wants_attachment(attrs: dict[str, Any]) -> tuple[str, str] | None:
    device = attrs.get("device_id")
    host = attrs.get("binding_host_id")
    if isinstance(device, str) and device and isinstance(host, str) and host:
        return device, host
    return None


class PortController(Controller):
    """Ports: bulk create is one service transaction; attach follows create/update."""

    def _attachment(self, ctx: RequestContext, port_id: str) -> objects.Attachment | None:
        try:
            return self.service.get_attachment(ctx, port_id)
        except exc.AttachmentNotFound:
            return None

    def _attach(self, ctx: RequestContext, port_id: str, device: str, host: str) -> None:
        self.service.attach_port(ctx, port_id, interface_id=port_id, instance_id=device,
                                 host=host)

    def create_one(self, ctx: RequestContext, attrs: dict[str, Any]) -> Any:
        return self.create_many(ctx, [attrs])[0]

    def create_many(self, ctx: RequestContext, items: list[dict[str, Any]]) -> list[Any]:
        """One transaction for the ports, then their attachments; undone on failure."""
        ports = self.service.create_ports(ctx, items)
        try:
            for port, attrs in zip(ports, items, strict=True):
                wanted = _wants_attachment(attrs)
                if wanted:
                    self._attach(ctx, port.id, *wanted)
        except Exception:
            self.undo_creates(ctx, ports)
            raise
        if not any(_wants_attachment(a) for a in items):
            return ports
        return [self.service.get_port(ctx, p.id) for p in ports]

    def undo_creates(self, ctx: RequestContext, done: list[Any]) -> None:
        admin = ctx.elevated()
        for port in done:
            try:
                self.service.detach_port(admin, port.id)
            except exc.NotFound:
                continue
        super().undo_creates(ctx, done)

    def update_one(self, ctx: RequestContext, rid: str, revision: int | None,
                   attrs: dict[str, Any]) -> Any:
        old = self.service.get_port(ctx, rid)
        current = self._attachment(ctx, rid)
        touches = "device_id" in attrs or "binding_host_id" in attrs
        merged = {"device_id": attrs.get("device_id", old.device_id),
                  "binding_host_id": attrs.get("binding_host_id", old.binding_host_id)}
        wanted = _wants_attachment(merged) if touches else None
        detach = touches and current is not None and wanted is None
        attach = wanted is not None and (current is None or
                                         (current.instance_id, current.host) != wanted)
        if attach and current is not None:
            raise exc.AlreadyAttached(port_id=rid, interface_id=current.interface_id)
        if detach or attach:
            # Binding is part of attaching and detaching: the service binds or clears it.
            attrs = {k: v for k, v in attrs.items() if k != "binding_host_id"}
        port = self.service.update_port(ctx, rid, expected_revision=revision, **attrs)
        if detach:
            self.service.detach_port(ctx, rid)
        elif attach:
            try:
                self._attach(ctx, rid, *wanted)
            except exc.NaasError:
                self._revert(ctx, old, attrs)
                raise
        else:
            return port
        return self.service.get_port(ctx, rid)

    def _revert(self, ctx: RequestContext, old: objects.Port, attrs: dict[str, Any]) -> None:
        """Undo the plain attributes of an update whose attach failed (all or nothing)."""
        undo = {k: getattr(old, k) for k in attrs if k in _REVERTIBLE}
        if not undo:
            return
        try:
            self.service.update_port(ctx, old.id, **undo)
        except exc.NaasError:
            LOG.warning("Port %s: undoing an update whose attach failed failed too", old.id)
