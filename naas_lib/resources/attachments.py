"""Attachments: the VIF of an instance plugged into a port, and the port's binding."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.resources import common
from naas_lib.resources.attaching import AttachmentRecorder
from naas_lib.resources.binding import Binder
from naas_lib.resources.core import Core
from naas_lib.resources.lifecycle import CREATE, DELETE, Lifecycle, Outcome, Phases
from naas_lib.resources.plugging import Plugging
from naas_lib.resources.ports import Ports

LOG = logging.getLogger(__name__)

_CREATE, _DELETE = Phases("attachment", CREATE), Phases("attachment", DELETE)
_atts = models.Attachment.__table__
_PS = sa.bindparam("ps", expanding=True)
_ATTACHMENTS_OF = sa.select(_atts).where(_atts.c.port_id.in_(_PS))
_INSTANCE_PORTS = sa.select(_atts.c.port_id).where(_atts.c.instance_id == sa.bindparam("i")) \
    .order_by(_atts.c.created_at, _atts.c.port_id)
_DELETE_ATTACHMENTS = sa.delete(_atts).where(_atts.c.port_id.in_(_PS))


@dataclasses.dataclass(eq=False)
class Attachments:
    """attach_port / detach_port and the local plug that follows them."""

    core: Core
    lifecycle: Lifecycle
    ports: Ports
    binder: Binder
    recorder: AttachmentRecorder
    plugging: Plugging

    def get_attachment(self, context: RequestContext, port_id: str) -> objects.Attachment:
        with self.core.db.reader() as session:
            self.ports.visible_row(session, context, port_id)
            row = session.get(models.Attachment, port_id)
            if row is None:
                raise exc.AttachmentNotFound(port_id=port_id)
            return common.attachment_obj(row)

    def list_attachments(self, context: RequestContext, instance_id: str | None = None,
                         host: str | None = None) -> list[objects.Attachment]:
        for field, value in (("instance_id", instance_id), ("host", host)):
            if value is not None:
                validation.lookup(field, value)
        with self.core.db.reader() as session:
            q = sa.select(models.Attachment).join(
                models.Port, models.Port.id == models.Attachment.port_id)
            if not context.is_admin:
                q = q.where(models.Port.project_id == context.project_id)
            if instance_id is not None:
                q = q.where(models.Attachment.instance_id == instance_id)
            if host is not None:
                q = q.where(models.Attachment.host == host)
            q = q.order_by(models.Attachment.created_at, models.Attachment.port_id)
            return [common.attachment_obj(r) for r in session.scalars(q)]

    def attach_port(self, context: RequestContext, port_id: str, interface_id: str,
                    instance_id: str | None = None, host: str | None = None,
                    owns_port: bool = False) -> objects.Attachment:
        """Record the VIF plugged into a port and bind the port to ``host``.

        Without ``host`` the port is bound to this service's own host, if it
        has one. When the port is bound to this service's host it is plugged
        at once and ACTIVE on return; a port bound elsewhere stays BUILD until
        its host plugs it.
        """
        request = self.recorder.request(interface_id, instance_id, host)
        out = Outcome(port_id, request=request)
        announce = []
        if self.core.events.has_subscribers("attachment", _CREATE.event("before")):
            # The port as it was is read only for those who listen: a boot
            # attaches every NIC, and this is its hot path.
            old = self.ports.get_port(context, port_id)
            self.core.enforce(context, "attach_port", {"project_id": old.project_id})
            announce = [Outcome(port_id, before=old, request=request)]
        plug_here = bool(request["host"]) and request["host"] == self.core.host

        def write(session: orm.Session) -> list[Outcome]:
            row = self.ports.visible_row(session, context, port_id)
            port = common.load_ports(session, [row])[0]
            net = common.network_by_id(session, row.network_id)
            att, port = self.recorder.record(session, context, port, net, request, owns_port)
            subnets = self.plugging.subnets_of(port) if plug_here else ()
            # The plug after commit reads nothing more (port security: its groups'
            # revisions are read here).
            ahead = self.plugging.read_ahead(session, [port]) if plug_here else None
            out.after, out.network, out.extra = att, net, (port, subnets, ahead)
            return [out]

        def plug(outs: list[Outcome]) -> None:
            if plug_here:
                self.core.hooks.point("after_commit_before_plug")
                port, subnets, ahead = out.extra
                self.plugging.plug_loaded(port, out.network, subnets, ahead=ahead)

        try:
            self.lifecycle.run(_CREATE, context, write, announced=announce,
                               after_postcommit=plug)
        except db_exc.DBDuplicateEntry as e:
            raise exc.InterfaceInUse(interface_id=request["interface_id"],
                                     port_id="another port") from e
        except exc.BindingFailed as e:
            self.plugging.set_port_status(port_id, constants.PORT_STATUS_ERROR, e.message)
            raise
        return out.after

    def detach_port(self, context: RequestContext, port_id: str) -> objects.Attachment | None:
        """Remove a port's attachment and clear its binding; None when it had none."""
        detached = self.detach_ports(context, [port_id])
        return detached[0] if detached else None

    def detach_ports(self, context: RequestContext, port_ids: list[str]
                     ) -> list[objects.Attachment]:
        """Detach several ports (an instance's) in one write transaction; what was removed.

        Each port is read, checked against the policy and announced (BEFORE,
        only when something listens) inside that transaction; ports without
        an attachment are left as they are. Their devices on this host are
        then removed in one batch (``unplug_many``: one kernel request for
        all of them, not one wait per device). PortNotFound, and nothing
        detached, when one of the ports cannot be seen.
        """
        if not isinstance(port_ids, (list, tuple)):
            raise exc.InvalidInput(field="port_ids", reason="must be a list")
        port_ids = list(dict.fromkeys(validation.lookup("port_id", i) for i in port_ids))
        if not port_ids:
            return []
        return self._detach(context, lambda _session: port_ids)

    def detach_instance(self, context: RequestContext, instance_id: str
                        ) -> list[objects.Attachment]:
        """Detach every port attached to ``instance_id``: :meth:`detach_ports` of them all.

        The instance's attachments are read inside the write transaction
        (no separate read before it); what was removed, in attachment order.
        PortNotFound, and nothing detached, when one of the ports cannot be seen.
        """
        validation.lookup("instance_id", instance_id)

        def attached(session: orm.Session) -> list[str]:
            return list(session.connection().execute(_INSTANCE_PORTS, {"i": instance_id})
                        .scalars())

        return self._detach(context, attached)

    def _detach(self, context: RequestContext,
                port_ids_in: Callable[[orm.Session], list[str]]) -> list[objects.Attachment]:
        def write(session: orm.Session) -> list[Outcome]:
            port_ids = port_ids_in(session)
            record = self.ports.visible_records(session, context, port_ids)
            attached: list[tuple[Any, objects.Port]] = []
            for port_id in port_ids:
                row, port = record(port_id)
                self.core.enforce(context, "detach_port", {"project_id": port.project_id})
                announced = announce.setdefault(port_id, Outcome(port_id, before=port))
                self.lifecycle.before_once(_DELETE, context, [announced])
                if row.attached_interface is not None:
                    attached.append((row, port))
            if not attached:
                return []
            conn = session.connection()
            atts = {r.port_id: r for r in conn.execute(
                _ATTACHMENTS_OF, {"ps": [row.id for row, _p in attached]})}
            nets = {n.id: n for _r, n in common.network_records(
                session, sorted({row.network_id for row, _p in attached}))}
            return [Outcome(row.id, before=common.attachment_obj(atts[row.id]),
                            network=nets[row.network_id],
                            extra=(port, row.device_id, row.revision_number))
                    for row, port in attached]

        announce: dict[str, Outcome] = {}
        outs = self.lifecycle.run(
            _DELETE, context, write, finish=self._remove_attachment,
            after_postcommit=lambda outs: self.plugging.unplug_quietly_many(
                [(o.extra[0], o.network) for o in outs]))
        return [o.before for o in outs]

    def _remove_attachment(self, session: orm.Session, outs: list[Outcome]) -> None:
        """Delete the attachments, unbind their ports and clear the device ids they set."""
        ids = [out.resource_id for out in outs]
        session.connection().execute(_DELETE_ATTACHMENTS, {"ps": ids})
        self.binder.unbind_all(session, ids)
        unbound = self.binder.unbind_values()
        common.bump_revisions(session, models.Port, "Port", [
            (out.resource_id, out.extra[2],
             {**unbound, "device_id": "" if out.before.instance_id
              and out.extra[1] == out.before.instance_id else out.extra[1]})
            for out in outs])
