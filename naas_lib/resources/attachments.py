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
            out.after, out.network, out.extra = att, net, (port, subnets)
            return [out]

        def plug(outs: list[Outcome]) -> None:
            if plug_here:
                self.core.hooks.point("after_commit_before_plug")
                port, subnets = out.extra
                self.plugging.plug_loaded(port, out.network, subnets)

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
            return [a.port_id for a in session.scalars(
                sa.select(models.Attachment).where(models.Attachment.instance_id == instance_id)
                .order_by(models.Attachment.created_at, models.Attachment.port_id))]

        return self._detach(context, attached)

    def _detach(self, context: RequestContext,
                port_ids_in: Callable[[orm.Session], list[str]]) -> list[objects.Attachment]:
        def write(session: orm.Session) -> list[Outcome]:
            outs: list[Outcome] = []
            nets: dict[str, objects.Network] = {}
            for port_id in port_ids_in(session):
                row, port = self.ports.visible_record(session, context, port_id)
                self.core.enforce(context, "detach_port", {"project_id": port.project_id})
                announced = announce.setdefault(port_id, Outcome(port_id, before=port))
                self.lifecycle.before_once(_DELETE, context, [announced])
                if row.attached_interface is None:
                    continue
                att_row = session.get(models.Attachment, port_id)
                if row.network_id not in nets:
                    nets[row.network_id] = common.network_by_id(session, row.network_id)
                outs.append(Outcome(port_id, before=common.attachment_obj(att_row),
                                    network=nets[row.network_id],
                                    extra=(port, row.device_id, row.revision_number)))
            return outs

        announce: dict[str, Outcome] = {}
        outs = self.lifecycle.run(
            _DELETE, context, write, finish=self._remove_attachment,
            after_postcommit=lambda outs: self.plugging.unplug_quietly_many(
                [(o.extra[0], o.network) for o in outs]))
        return [o.before for o in outs]

    def _remove_attachment(self, session: orm.Session, outs: list[Outcome]) -> None:
        for out in outs:
            att, (_, device_id, revision) = out.before, out.extra
            session.execute(sa.delete(models.Attachment)
                            .where(models.Attachment.port_id == out.resource_id))
            self.binder.unbind(session, out.resource_id)
            values: dict[str, Any] = self.binder.unbind_values()
            if att.instance_id and device_id == att.instance_id:
                values["device_id"] = ""
            common.bump_revision(session, models.Port, "Port", out.resource_id, revision, None,
                                 values)
