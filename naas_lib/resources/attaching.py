"""Recording an attachment and binding its port inside a caller's transaction.

Shared by ``attach_port`` and by ``create_ports`` (a boot creates, attaches
and binds its ports in one transaction), so it lives apart from both.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.resources import common
from naas_lib.resources.binding import Binder
from naas_lib.resources.core import Core
from naas_lib.resources.plugging import Plugging

_attachments, _ports = models.Attachment.__table__, models.Port.__table__
_INSERT_ATTACHMENT = sa.insert(_attachments)
#: A new port's row after its attachment: status, device id and revision (no one
#: else can have changed a row inserted in this same transaction).
_ATTACHED_NEW_PORT = sa.update(_ports).where(_ports.c.id == sa.bindparam("i")).values(
    status=sa.bindparam("s"), device_id=sa.bindparam("d"), revision_number=sa.bindparam("r"),
    updated_at=sa.bindparam("u"))


class AttachmentRecorder:
    """Validates attachment requests and writes them with the port's binding."""

    def __init__(self, core: Core, binder: Binder, plugging: Plugging) -> None:
        self.core = core
        self.binder = binder
        self.plugging = plugging

    def request(self, interface_id: Any, instance_id: Any, host: Any) -> dict[str, Any]:
        """Validated attachment attributes; the host defaults to this service's."""
        interface_id = validation.string("interface_id", interface_id)
        if not interface_id:
            raise exc.InvalidInput(field="interface_id", reason="required")
        instance_id = validation.string("instance_id", instance_id, allow_none=True)
        host = validation.string("host", host, allow_none=True) or self.core.host
        return {"interface_id": interface_id, "instance_id": instance_id, "host": host}

    def _check_free(self, session: orm.Session, context: RequestContext, port_id: str,
                    interface_id: str, new_port: bool) -> None:
        if not new_port:
            existing = session.get(models.Attachment, port_id)
            if existing is not None:
                raise exc.AlreadyAttached(port_id=port_id, interface_id=existing.interface_id)
        other = session.execute(sa.select(models.Attachment.port_id).where(
            models.Attachment.interface_id == interface_id)).first()
        if other is not None:
            # Name the port only to a caller who may see it (no existence leak).
            holder = session.get(models.Port, other[0])
            shown = other[0] if holder is not None and self.core.authorize(
                context, "get_port", {"project_id": holder.project_id}) else "another port"
            raise exc.InterfaceInUse(interface_id=interface_id, port_id=shown)

    @staticmethod
    def attached_values(status: str, device_id: str, revision: int, request: dict[str, Any],
                        now: Any) -> dict[str, Any]:
        """A new port's column values once attached as ``request`` says (status, device
        id, revision, update time), from its values before."""
        return {"status": constants.PORT_STATUS_BUILD if request["host"] else status,
                "device_id": device_id or request["instance_id"] or "",
                "revision_number": revision + 1, "updated_at": now}

    def record_new(self, session: orm.Session, context: RequestContext,
                   items: list[tuple[objects.Port, objects.Network, dict[str, Any]]],
                   written: list[dict[str, Any] | None] | None = None
                   ) -> list[tuple[objects.Attachment, objects.Port]]:
        """Attach and bind ports inserted in this transaction, owned by their attachments.

        What :meth:`record` does for each, in a constant number of statements
        (a boot's NICs): one check that no interface is taken (none when
        every interface id is its new port's own), one insert, one binding
        update, one port update. ``written``, per item: the binding values
        (``Binder.chosen``) of a port inserted already attached and bound
        (``attached_values``), whose rows are left as they are; or None.
        """
        if not items:
            return []
        written = written or [None] * len(items)
        for project_id in dict.fromkeys(port.project_id for port, _n, _r in items):
            self.core.enforce(context, "attach_port", {"project_id": project_id})
        interfaces = [r["interface_id"] for _p, _n, r in items]
        # A new port's own id names no other port's interface (a fresh UUID; the
        # unique index would refuse it anyway): only other ids are looked up.
        foreign = [r["interface_id"] for p, _n, r in items if r["interface_id"] != p.id]
        taken = session.execute(sa.select(_attachments.c.interface_id).where(
            _attachments.c.interface_id.in_(foreign))).first() if foreign else None
        if taken is not None or len(set(interfaces)) < len(interfaces):
            for port, _n, request in items:  # name the culprit as record() would
                self._check_free(session, context, port.id, request["interface_id"], True)
            dup = next(i for i in interfaces if interfaces.count(i) > 1)
            raise exc.InterfaceInUse(interface_id=dup, port_id="another port")
        now = models.utcnow()
        session.execute(_INSERT_ATTACHMENT, [{
            "port_id": port.id, "interface_id": r["interface_id"],
            "instance_id": r["instance_id"], "host": r["host"], "owns_port": True,
            "created_at": now} for port, _n, r in items])
        bound = iter(self.binder.bind_new(session, [
            (p, n, r["host"]) for (p, n, r), w in zip(items, written, strict=True)
            if r["host"] and w is None]))
        out, rows = [], []
        for (port, _n, r), values in zip(items, written, strict=True):
            if values is not None:  # its row was inserted so, at its creation time
                port = self.binder.as_bound(port, values)
                after = port.replace(**self.attached_values(
                    port.status, port.device_id, port.revision_number, r, port.updated_at))
            else:
                port = next(bound) if r["host"] else port
                after = port.replace(**self.attached_values(port.status, port.device_id,
                                                            port.revision_number, r, now))
                rows.append({"i": port.id, "s": after.status, "d": after.device_id,
                             "r": after.revision_number, "u": now})
            out.append((objects.Attachment(port_id=port.id, interface_id=r["interface_id"],
                                           instance_id=r["instance_id"], host=r["host"],
                                           owns_port=True, created_at=now), after))
        if rows:
            session.connection().execute(_ATTACHED_NEW_PORT, rows)
        return out

    def record(self, session: orm.Session, context: RequestContext, port: objects.Port,
               network: objects.Network, request: dict[str, Any], owns_port: bool,
               new_port: bool = False) -> tuple[objects.Attachment, objects.Port]:
        """Insert the attachment, bind the port to the request's host; (attachment, port).

        ``new_port``: the port was inserted in this transaction, so it has no
        attachment and no INACTIVE binding to look for.
        """
        port_id, interface_id = port.id, request["interface_id"]
        instance_id, host = request["instance_id"], request["host"]
        self.core.enforce(context, "attach_port", {"project_id": port.project_id})
        self._check_free(session, context, port_id, interface_id, new_port)
        now = models.utcnow()
        session.execute(sa.insert(models.Attachment.__table__), [{
            "port_id": port_id, "interface_id": interface_id, "instance_id": instance_id,
            "host": host, "owns_port": owns_port, "created_at": now}])
        values: dict[str, Any] = {}
        if instance_id and not port.device_id:
            values["device_id"] = instance_id
        if host:
            port = self.binder.bind(session, port, network, host, new_port=new_port)
            values["status"] = constants.PORT_STATUS_BUILD
        revision = common.bump_revision(session, models.Port, "Port", port_id,
                                        port.revision_number, None, values)
        port = port.replace(status=values.get("status", port.status),
                            device_id=values.get("device_id", port.device_id),
                            revision_number=revision)
        att = objects.Attachment(port_id=port_id, interface_id=interface_id,
                                 instance_id=instance_id, host=host, owns_port=owns_port,
                                 created_at=now)
        return att, port
