"""Attachment operations: a VIF plugged into a port, and the port's binding."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import constants, events, faults, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.resources import common

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)
_ports = models.Port.__table__


class AttachmentOps:
    """attach_port / detach_port and the local plug that follows them."""

    def get_attachment(self: NetworkService, context: RequestContext,
                       port_id: str) -> objects.Attachment:
        with self.db.reader() as session:
            self._port_row(session, context, port_id)
            row = session.get(models.Attachment, port_id)
            if row is None:
                raise exc.AttachmentNotFound(port_id=port_id)
            return common.attachment_obj(row)

    def list_attachments(self: NetworkService, context: RequestContext,
                         instance_id: str | None = None,
                         host: str | None = None) -> list[objects.Attachment]:
        with self.db.reader() as session:
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

    def attach_port(self: NetworkService, context: RequestContext, port_id: str,
                    interface_id: str, instance_id: str | None = None,
                    host: str | None = None, owns_port: bool = False) -> objects.Attachment:
        """Record the VIF plugged into a port and bind the port to ``host``.

        Without ``host`` the port is bound to this service's own host, if it
        has one. When the port is bound to this service's host it is plugged
        at once and ACTIVE on return; a port bound elsewhere stays BUILD until
        its host plugs it.
        """
        request = self._attach_request(interface_id, instance_id, host)
        interface_id, host = request["interface_id"], request["host"]
        if self.events.has_subscribers(events.ATTACHMENT, events.BEFORE_CREATE):
            # The port as it was is read only for those who listen: a boot
            # attaches every NIC, and this is its hot path.
            old = self.get_port(context, port_id)
            self.enforce(context, "attach_port", {"project_id": old.project_id})
            self.publish(events.ATTACHMENT, events.BEFORE_CREATE, events.EventPayload(
                context, port_id, states=(old, None), request=request))
        plug_here = bool(host) and host == self.host

        def txn():
            with self.db.writer() as session:
                row = self._port_row(session, context, port_id)
                return self._attach_in_session(session, context, row, request, owns_port,
                                               plug_here)

        try:
            att, port, net, subnets = self.retrying(txn)()
        except db_exc.DBDuplicateEntry as e:
            raise exc.InterfaceInUse(interface_id=interface_id, port_id="another port") from e
        except exc.BindingFailed as e:
            self.set_port_status(port_id, constants.PORT_STATUS_ERROR, e.message)
            raise
        if plug_here:
            faults.point("after_commit_before_plug")
            self._plug_loaded(port, net, subnets)
        self.publish(events.ATTACHMENT, events.AFTER_CREATE,
                     events.EventPayload(context, port_id, states=(None, att), request=request))
        return att

    def _attach_request(self: NetworkService, interface_id: Any, instance_id: Any,
                        host: Any) -> dict[str, Any]:
        """Validated attachment attributes; the host defaults to this service's."""
        interface_id = validation.string("interface_id", interface_id)
        if not interface_id:
            raise exc.InvalidInput(field="interface_id", reason="required")
        instance_id = validation.string("instance_id", instance_id, allow_none=True)
        host = validation.string("host", host, allow_none=True) or self.host
        return {"interface_id": interface_id, "instance_id": instance_id, "host": host}

    def _attach_in_session(self: NetworkService, session, context: RequestContext,
                           row: models.Port, request: dict[str, Any], owns_port: bool,
                           plug_here: bool):
        """Record an attachment and bind its port inside the caller's transaction.

        Returns (attachment, bound port, network, subnets to plug with).
        """
        port_id, interface_id = row.id, request["interface_id"]
        instance_id, host = request["instance_id"], request["host"]
        self.enforce(context, "attach_port", {"project_id": row.project_id})
        existing = session.get(models.Attachment, port_id)
        if existing is not None:
            raise exc.AlreadyAttached(port_id=port_id,
                                      interface_id=existing.interface_id)
        other = session.execute(sa.select(models.Attachment.port_id).where(
            models.Attachment.interface_id == interface_id)).first()
        if other is not None:
            # Name the port only to a caller who may see it (no existence leak).
            holder = session.get(models.Port, other[0])
            shown = other[0] if holder is not None and self.authorize(
                context, "get_port", {"project_id": holder.project_id}) \
                else "another port"
            raise exc.InterfaceInUse(interface_id=interface_id, port_id=shown)
        now = models.utcnow()
        session.execute(sa.insert(models.Attachment.__table__), [{
            "port_id": port_id, "interface_id": interface_id,
            "instance_id": instance_id, "host": host, "owns_port": owns_port,
            "created_at": now}])
        port = common.load_ports(session, [row])[0]
        net = common.network_obj(session.get(models.Network, row.network_id), [])
        values: dict[str, Any] = {}
        if instance_id and not row.device_id:
            values["device_id"] = instance_id
        if host:
            port = self._bind(session, port, net, host)
            values["status"] = constants.PORT_STATUS_BUILD
        revision = common.bump_revision(session, models.Port, "Port", port_id,
                                        row.revision_number, None, values)
        port = port.replace(status=values.get("status", port.status),
                            device_id=values.get("device_id", port.device_id),
                            revision_number=revision)
        att = objects.Attachment(port_id=port_id, interface_id=interface_id,
                                 instance_id=instance_id, host=host,
                                 owns_port=owns_port, created_at=now)
        self.publish(events.ATTACHMENT, events.PRECOMMIT_CREATE, events.EventPayload(
            context, port_id, states=(None, att), request=request, session=session))
        subnets = self._plug_subnets(session, port) if plug_here else []
        return att, port, net, subnets

    def detach_port(self: NetworkService, context: RequestContext,
                    port_id: str) -> objects.Attachment | None:
        """Remove a port's attachment and clear its binding; None when it had none."""
        old = self.get_port(context, port_id)
        self.enforce(context, "detach_port", {"project_id": old.project_id})
        self.publish(events.ATTACHMENT, events.BEFORE_DELETE,
                     events.EventPayload(context, port_id, states=(old, None)))

        def txn():
            with self.db.writer() as session:
                row = self._port_row(session, context, port_id)
                att_row = session.get(models.Attachment, port_id)
                if att_row is None:
                    return None, None, None
                att = common.attachment_obj(att_row)
                port = common.load_ports(session, [row])[0]
                net = common.network_obj(session.get(models.Network, row.network_id), [])
                self.publish(events.ATTACHMENT, events.PRECOMMIT_DELETE, events.EventPayload(
                    context, port_id, states=(att, None), session=session))
                session.execute(sa.delete(models.Attachment)
                                .where(models.Attachment.port_id == port_id))
                values = self._unbind_values()
                if att.instance_id and row.device_id == att.instance_id:
                    values["device_id"] = ""
                common.bump_revision(session, models.Port, "Port", port_id,
                                     row.revision_number, None, values)
                return att, port, net

        att, port, net = self.retrying(txn)()
        if att is None:
            return None
        if port.binding_host_id and port.binding_host_id == self.host:
            self._unplug_quietly(port, net)
        self.publish(events.ATTACHMENT, events.AFTER_DELETE,
                     events.EventPayload(context, port_id, states=(att, None)))
        return att

    # -- host side ---------------------------------------------------------

    def set_port_status(self: NetworkService, port_id: str, status: str,
                        reason: str | None = None) -> None:
        """Record what the host made of a port (internal: not a caller's write)."""
        if status not in constants.PORT_STATUSES:
            raise exc.RequestedStateInvalid(resource="port", reason=f"{status!r} is not a status")

        def txn() -> None:
            with self.db.writer() as session:
                session.execute(sa.update(_ports).where(_ports.c.id == port_id).values(
                    status=status, status_reason=reason,
                    revision_number=_ports.c.revision_number + 1,
                    updated_at=models.utcnow()))

        self.retrying(txn)()

    def _plug_subnets(self: NetworkService, session, port: objects.Port) -> list:
        """The port's subnets, for drivers that configure guest addresses."""
        subnet_ids = {f.subnet_id for f in port.fixed_ips}
        if not subnet_ids or not self.driver.needs_subnets:
            return []
        return common.load_subnets(session, list(session.scalars(
            sa.select(models.Subnet).where(models.Subnet.id.in_(subnet_ids)))))

    def plug_port(self: NetworkService, port_id: str) -> objects.Port:
        """Make the port's devices on this host and record the outcome.

        ACTIVE when wired (DOWN when the port or its network is
        administratively down); ERROR with the driver's reason, and the typed
        DriverError raised, when plugging failed.
        """
        with self.db.reader() as session:
            row = session.get(models.Port, port_id)
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            port = common.load_ports(session, [row])[0]
            net = common.network_obj(session.get(models.Network, row.network_id), [])
            subnets = self._plug_subnets(session, port)
        return self._plug_loaded(port, net, subnets)

    def _plug_loaded(self: NetworkService, port: objects.Port, net: objects.Network,
                     subnets: list) -> objects.Port:
        port_id = port.id
        if port.binding_host_id != self.host or not self.host:
            raise exc.BindingFailed(port_id=port_id, host=self.host,
                                    reason=f"port is bound to {port.binding_host_id!r}")
        try:
            if self.driver.needs_subnets:
                self.driver.plug(port, net, subnets=subnets)
            else:
                self.driver.plug(port, net)
        except Exception as e:
            reason = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            self.set_port_status(port_id, constants.PORT_STATUS_ERROR, reason[:255])
            if isinstance(e, exc.DriverError):
                raise
            raise exc.DriverError(driver=self.driver.name, reason=reason) from e
        up = port.admin_state_up and net.admin_state_up
        status = constants.PORT_STATUS_ACTIVE if up else constants.PORT_STATUS_DOWN
        self.set_port_status(port_id, status)
        return port.replace(status=status, status_reason=None)
