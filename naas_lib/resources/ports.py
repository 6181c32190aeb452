"""Port operations of ``NetworkService``."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants, events, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.drivers.base import PortContext
from naas_lib.ipam import allocator
from naas_lib.resources import common
from naas_lib.resources.networks import check_writable, policy_target

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)

BINDING = ("binding_host_id", "binding_profile")
CREATE_FIELDS = ("network_id", "name", "description", "admin_state_up", "mac_address",
                 "fixed_ips", "device_id", "device_owner", *BINDING, "project_id", "tenant_id")
UPDATE_FIELDS = ("name", "description", "admin_state_up", "mac_address", "fixed_ips",
                 "device_id", "device_owner", *BINDING)
READ_ONLY_BINDING = ("binding_vif_type", "binding_vif_details")
FILTERS = ("id", "project_id", "network_id", "name", "description", "mac_address",
           "admin_state_up", "status", "device_id", "device_owner", "binding_host_id",
           "binding_vif_type", "revision_number")
_port_table = models.Port.__table__
_INSERT_PORT = sa.insert(_port_table)
_MAC_ON_NETWORK = sa.select(_port_table.c.id).where(
    _port_table.c.network_id == sa.bindparam("n"), _port_table.c.mac_address == sa.bindparam("m"))


def _validated(attrs: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """Type-check the writable attributes of a port request."""
    for name in READ_ONLY_BINDING:
        if name in attrs:
            raise exc.RequestedStateInvalid(resource="port",
                                            reason=f"{name} is chosen by the driver")
    check_writable("port", dict(attrs), CREATE_FIELDS if creating else UPDATE_FIELDS)
    v: dict[str, Any] = {}
    for name in ("name", "description", "device_id", "device_owner"):
        if name in attrs:
            v[name] = validation.string(name, attrs[name] if attrs[name] is not None else "")
    if "admin_state_up" in attrs:
        v["admin_state_up"] = validation.boolean("admin_state_up", attrs["admin_state_up"])
    if attrs.get("mac_address") is not None:
        v["mac_address"] = validation.mac_address("mac_address", attrs["mac_address"])
    if "fixed_ips" in attrs:
        v["fixed_ips"] = allocator.parse_request(attrs["fixed_ips"] or [])
    if "binding_host_id" in attrs:
        v["binding_host_id"] = validation.string("binding_host_id", attrs["binding_host_id"],
                                                 allow_none=True) or None
    if attrs.get("binding_profile") is not None:
        v["binding_profile"] = validation.json_dict("binding_profile", attrs["binding_profile"])
    return v


def lost_race(e: db_exc.DBDuplicateEntry) -> db_exc.RetryRequest:
    """A unique constraint refused a MAC or address another request just took.

    The operation runs again: a requested value is then found taken by the
    checks before the insert (MacAddressInUse / IpAddressInUse naming it),
    and a generated one is chosen afresh.
    """
    return db_exc.RetryRequest(e)


class PortOps:
    """create/get/list/update/delete of ports."""

    # -- reads -------------------------------------------------------------

    def _port_row(self: NetworkService, session: orm.Session, context: RequestContext,
                  port_id: str) -> models.Port:
        row = session.get(models.Port, port_id) if isinstance(port_id, str) else None
        if row is None or not self.authorize(context, "get_port",
                                             {"project_id": row.project_id}):
            raise exc.PortNotFound(port_id=port_id)
        return row

    def get_port(self: NetworkService, context: RequestContext, port_id: str,
                 fields: list[str] | None = None) -> objects.Port | dict[str, Any]:
        with self.db.reader() as session:
            port = common.load_ports(session, [self._port_row(session, context, port_id)])[0]
        return port.to_dict(fields) if fields else port

    def list_ports(self: NetworkService, context: RequestContext,
                   fields: list[str] | None = None, limit: int | None = None,
                   marker: str | None = None, sorts: list[tuple[str, bool]] | None = None,
                   page_reverse: bool = False, **filters: Any) -> list:
        """Ports the caller may see; ``fixed_ips`` filters by subnet_id and/or ip_address."""
        if "tenant_id" in filters:
            filters["project_id"] = filters.pop("tenant_id")
        ip_filter = filters.pop("fixed_ips", None)
        with self.db.reader() as session:
            q = sa.select(models.Port)
            if not context.is_admin:
                q = q.where(models.Port.project_id == context.project_id)
            if ip_filter is not None:
                entries = ip_filter if isinstance(ip_filter, (list, tuple)) else [ip_filter]
                for entry in entries:
                    if not isinstance(entry, Mapping) or set(entry) - {"subnet_id",
                                                                       "ip_address"}:
                        raise exc.InvalidInput(field="fixed_ips",
                                               reason="filter is {'subnet_id'?, 'ip_address'?}")
                    sub = sa.select(models.IpAllocation.port_id)
                    for k, val in entry.items():
                        sub = sub.where(getattr(models.IpAllocation, k) == val)
                    q = q.where(models.Port.id.in_(sub))
            q = common.apply_filters(q, models.Port, filters, FILTERS, "port")
            q = common.apply_paging(session, q, models.Port, FILTERS + ("created_at",), "port",
                                    sorts, limit, marker, page_reverse, exc.PortNotFound,
                                    "port_id")
            ports = common.load_ports(session, list(session.scalars(q)))
        ports = common.finish_list(ports, fields, page_reverse)
        return [p.to_dict(fields) for p in ports] if fields else ports

    # -- create ------------------------------------------------------------

    def _prepare_port(self: NetworkService, context: RequestContext,
                      attrs: dict[str, Any]) -> dict[str, Any]:
        """Everything about a new port that needs no transaction."""
        attrs = dict(attrs)
        if "network_id" not in attrs:
            raise exc.InvalidInput(field="network_id", reason="required")
        network_id = validation.uuid_str("network_id", attrs["network_id"])
        project_id = self.owner_project(context, attrs)
        v = _validated(attrs, creating=True)
        if any(k in v for k in BINDING):
            self.enforce(context, "create_port:binding", {"project_id": project_id})
        v.update(network_id=network_id, project_id=project_id, id=str(uuid.uuid4()))
        return v

    def _insert_port(self: NetworkService, session: orm.Session, context: RequestContext,
                     v: dict[str, Any], net_row: Any) -> objects.Port:
        """Insert one port with its MAC and addresses inside the caller's transaction."""
        self.enforce(context, "create_port", {**policy_target(net_row),
                                              "project_id": v["project_id"]})
        mac = v.get("mac_address")
        conn = session.connection()
        if mac is not None and conn.execute(_MAC_ON_NETWORK,
                                            {"n": net_row.id, "m": mac}).first():
            raise exc.MacAddressInUse(mac=mac, net_id=net_row.id)
        now = models.utcnow()
        row = {
            "id": v["id"], "project_id": v["project_id"], "network_id": net_row.id,
            "name": v.get("name", ""), "description": v.get("description", ""),
            "mac_address": mac or self.generate_mac(),
            "admin_state_up": v.get("admin_state_up", True),
            "status": constants.PORT_STATUS_DOWN, "status_reason": None,
            "device_id": v.get("device_id", ""), "device_owner": v.get("device_owner", ""),
            "binding_host_id": None, "binding_profile": json.dumps(v.get("binding_profile", {})),
            "binding_vif_type": constants.VIF_TYPE_UNBOUND, "binding_vif_details": "{}",
            "revision_number": 1, "created_at": now, "updated_at": now,
        }
        try:
            conn.execute(_INSERT_PORT, row)
            ips = allocator.allocate(session, v["id"], net_row.id, v.get("fixed_ips"))
        except db_exc.DBDuplicateEntry as e:
            raise lost_race(e) from e
        port = common.port_obj(_RowView(row), ips)
        if v.get("binding_host_id"):
            port = self._bind(session, port, common.network_obj(net_row, []),
                              v["binding_host_id"])
        return port

    def create_port(self: NetworkService, context: RequestContext,
                    **attrs: Any) -> objects.Port:
        """Create a port with a MAC and addresses (automatic unless ``fixed_ips`` says)."""
        return self.create_ports(context, [attrs])[0]

    def create_ports(self: NetworkService, context: RequestContext,
                     ports: Sequence[Mapping[str, Any]],
                     attachments: Sequence[Mapping[str, Any] | None] | None = None
                     ) -> list[objects.Port]:
        """Create several ports in one transaction: all of them or none.

        ``attachments``, one entry per port (``interface_id``, by default the
        new port's id, ``instance_id``, ``host``; or None), attaches and binds
        the new ports in that same transaction, owned by their attachment
        (``owns_port``): a process that dies right after commit leaves attached
        ports that deallocation finds, never orphans. Plugging is left to the
        caller (``plug_port``).
        """
        if not isinstance(ports, (list, tuple)):
            raise exc.InvalidInput(field="ports", reason="must be a list")
        if not all(isinstance(p, Mapping) for p in ports):
            raise exc.InvalidInput(field="ports", reason="each entry is a dictionary")
        if attachments is not None and (not isinstance(attachments, (list, tuple))
                                        or len(attachments) != len(ports)):
            raise exc.InvalidInput(field="attachments", reason="one entry (or None) per port")
        prepared = [self._prepare_port(context, dict(p)) for p in ports]
        attach_requests = [
            None if a is None else self._attach_request(
                # Nova names a VIF after its port: the default interface id.
                a.get("interface_id") or v["id"], a.get("instance_id"), a.get("host"))
            for v, a in zip(prepared, attachments or [None] * len(prepared), strict=True)]
        for v in prepared:
            self.publish(events.PORT, events.BEFORE_CREATE,
                         events.EventPayload(context, v["id"], request=v))
        for v, a in zip(prepared, attach_requests, strict=True):
            if a is not None:
                self.publish(events.ATTACHMENT, events.BEFORE_CREATE,
                             events.EventPayload(context, v["id"], request=a))

        def txn() -> list[tuple[objects.Port, objects.Network]]:
            created = []
            attached.clear()
            with self.db.writer() as session:
                nets: dict[str, Any] = {}
                for v, a in zip(prepared, attach_requests, strict=True):
                    net_row = nets.get(v["network_id"])
                    if net_row is None:
                        net_row = nets[v["network_id"]] = self._network_record(
                            session, context, v["network_id"])
                    port = self._insert_port(session, context, v, net_row)
                    net = common.network_obj(net_row, [])
                    if self.events.has_subscribers(events.PORT, events.PRECOMMIT_CREATE):
                        self.publish(events.PORT, events.PRECOMMIT_CREATE, events.EventPayload(
                            context, port.id, states=(None, port), request=v, session=session))
                    self.driver.create_port_precommit(PortContext(port, net, session=session))
                    if a is not None:
                        att, port, _, _ = self._attach_in_session(
                            session, context, session.get(models.Port, port.id), a,
                            owns_port=True, plug_here=False)
                        attached.append(att)
                    created.append((port, net))
            return created

        attached: list[objects.Attachment] = []
        created = self.retrying(txn)()
        for port, net in created:
            try:
                self.driver.create_port_postcommit(PortContext(port, net))
            except Exception as e:
                for done, _ in created:
                    self._delete_port_rows(context.elevated(), done.id, force=True)
                raise exc.DriverError(driver=self.driver.name, reason=str(e)) from e
        for port, _ in created:
            self.publish(events.PORT, events.AFTER_CREATE,
                         events.EventPayload(context, port.id, states=(None, port)))
        for att in attached:
            self.publish(events.ATTACHMENT, events.AFTER_CREATE,
                         events.EventPayload(context, att.port_id, states=(None, att)))
        return [p for p, _ in created]

    # -- binding -----------------------------------------------------------

    def _bind(self: NetworkService, session: orm.Session, port: objects.Port,
              network: objects.Network, host: str) -> objects.Port:
        """Let the host's driver choose VIF type and details (database only)."""
        binder = self.binding_driver(session, host)
        reason = binder.check_network(network)
        if reason is not None:
            raise exc.BindingFailed(port_id=port.id, host=host, reason=reason)
        binding = binder.bind_port(port, network)
        values = {"binding_host_id": host, "binding_vif_type": binding.vif_type,
                  "binding_vif_details": json.dumps(dict(binding.vif_details)),
                  "status_reason": None}
        session.execute(sa.update(_port_table).where(_port_table.c.id == port.id)
                        .values(**values))
        return port.replace(binding_host_id=host, binding_vif_type=binding.vif_type,
                            binding_vif_details=dict(binding.vif_details), status_reason=None)

    def binding_driver(self: NetworkService, session: orm.Session, host: str):
        """The driver that decides bindings for ``host``: this service's own."""
        return self.driver

    def _unbind_values(self: NetworkService) -> dict[str, Any]:
        return {"binding_host_id": None, "binding_vif_type": constants.VIF_TYPE_UNBOUND,
                "binding_vif_details": "{}", "status": constants.PORT_STATUS_DOWN,
                "status_reason": None}

    # -- update ------------------------------------------------------------

    def update_port(self: NetworkService, context: RequestContext, port_id: str,
                    expected_revision: int | None = None, **attrs: Any) -> objects.Port:
        """Change a port; new ``fixed_ips`` release the addresses no longer listed."""
        v = _validated(attrs, creating=False)
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_port(context, port_id)
        self.enforce(context, "update_port", {"project_id": old.project_id})
        if any(k in v for k in BINDING):
            self.enforce(context, "update_port:binding", {"project_id": old.project_id})
        self.publish(events.PORT, events.BEFORE_UPDATE,
                     events.EventPayload(context, port_id, states=(old, None), request=v))

        def txn() -> tuple[objects.Port, objects.Port, objects.Network]:
            with self.db.writer() as session:
                row = self._port_row(session, context, port_id)
                before = common.load_ports(session, [row])[0]
                net_row = session.get(models.Network, row.network_id)
                net = common.network_obj(net_row, [])
                values = {k: v[k] for k in ("name", "description", "admin_state_up",
                                            "device_id", "device_owner") if k in v}
                if "binding_profile" in v:
                    values["binding_profile"] = json.dumps(v["binding_profile"])
                mac = v.get("mac_address")
                if mac is not None and mac != row.mac_address:
                    if row.binding_host_id:
                        raise exc.Conflict(f"Port {port_id} is bound; its MAC cannot change.")
                    if session.connection().execute(
                            _MAC_ON_NETWORK, {"n": row.network_id, "m": mac}).first():
                        raise exc.MacAddressInUse(mac=mac, net_id=row.network_id)
                    values["mac_address"] = mac
                if values.get("admin_state_up") is False and row.status in (
                        constants.PORT_STATUS_ACTIVE, constants.PORT_STATUS_BUILD):
                    values["status"] = constants.PORT_STATUS_DOWN
                try:
                    common.bump_revision(session, models.Port, "Port", port_id,
                                         row.revision_number, expected_revision, values)
                    if "fixed_ips" in v:
                        self._replace_ips(session, before, v["fixed_ips"])
                except db_exc.DBDuplicateEntry as e:
                    raise lost_race(e) from e
                session.expire_all()
                port = common.load_ports(session, [session.get(models.Port, port_id)])[0]
                if "binding_host_id" in v and v["binding_host_id"] != before.binding_host_id:
                    if v["binding_host_id"]:
                        port = self._bind(session, port, net, v["binding_host_id"])
                    else:
                        session.execute(sa.update(_port_table)
                                        .where(_port_table.c.id == port_id)
                                        .values(**self._unbind_values()))
                        # populate_existing: the row in the session predates the UPDATE.
                        port = common.load_ports(session, [session.get(
                            models.Port, port_id, populate_existing=True)])[0]
                self.publish(events.PORT, events.PRECOMMIT_UPDATE, events.EventPayload(
                    context, port_id, states=(before, port), request=v, session=session))
                self.driver.update_port_precommit(PortContext(port, net, before, session))
                return before, port, net

        try:
            before, port, net = self.retrying(txn)()
        except exc.BindingFailed as e:
            self.set_port_status(port_id, constants.PORT_STATUS_ERROR, e.message[:255])
            raise
        self._driver_postcommit(self.driver.update_port_postcommit,
                                PortContext(port, net, before))
        port = self.after_port_update(context, before, port, net)
        self.publish(events.PORT, events.AFTER_UPDATE,
                     events.EventPayload(context, port_id, states=(before, port), request=v))
        return port

    def after_port_update(self: NetworkService, context: RequestContext, before: objects.Port,
                          port: objects.Port, network: objects.Network) -> objects.Port:
        """Host-side follow-up of an update (device state); the dataplane layer extends it."""
        return port

    def _replace_ips(self: NetworkService, session: orm.Session, before: objects.Port,
                     request: list[dict[str, Any]]) -> None:
        keep: list[tuple[str, str]] = []
        remaining = []
        current = {(f.subnet_id, f.ip_address) for f in before.fixed_ips}
        for entry in request:
            ip = str(entry["ip_address"]) if "ip_address" in entry else None
            match = [c for c in current if ip is not None and c[1] == ip
                     and entry.get("subnet_id", c[0]) == c[0]]
            if match:
                keep.append(match[0])
            else:
                remaining.append(entry)
        allocator.release(session, before.id, keep=keep)
        if remaining:
            allocator.allocate(session, before.id, before.network_id, remaining)

    # -- delete ------------------------------------------------------------

    def delete_port(self: NetworkService, context: RequestContext, port_id: str,
                    expected_revision: int | None = None) -> None:
        """Delete a port and free its addresses; refused with PortInUse while attached."""
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_port(context, port_id)
        self.enforce(context, "delete_port", {"project_id": old.project_id})
        self.publish(events.PORT, events.BEFORE_DELETE,
                     events.EventPayload(context, port_id, states=(old, None)))
        port, net = self._delete_port_rows(context, port_id, expected_revision=expected_revision)
        if port.binding_host_id and port.binding_host_id == self.host:
            self._unplug_quietly(port, net)
        self._driver_postcommit(self.driver.delete_port_postcommit, PortContext(port, net))
        self.publish(events.PORT, events.AFTER_DELETE,
                     events.EventPayload(context, port_id, states=(port, None)))

    def _delete_port_rows(self: NetworkService, context: RequestContext, port_id: str,
                          expected_revision: int | None = None, force: bool = False):
        def txn():
            with self.db.writer() as session:
                row = self._port_row(session, context, port_id)
                if expected_revision is not None and expected_revision != row.revision_number:
                    raise exc.RevisionConflict(resource="Port", resource_id=port_id,
                                               current=row.revision_number,
                                               expected=expected_revision)
                att = session.get(models.Attachment, port_id)
                if att is not None and not force:
                    raise exc.PortInUse(port_id=port_id, interface_id=att.interface_id)
                port = common.load_ports(session, [row])[0]
                net = common.network_obj(session.get(models.Network, row.network_id), [])
                if not force:
                    self.publish(events.PORT, events.PRECOMMIT_DELETE, events.EventPayload(
                        context, port_id, states=(port, None), session=session))
                    self.driver.delete_port_precommit(PortContext(port, net, session=session))
                self._release_port_ips(session, port_id)
                session.execute(sa.delete(models.Attachment)
                                .where(models.Attachment.port_id == port_id))
                session.execute(sa.delete(models.Port).where(models.Port.id == port_id))
                return port, net

        return self.retrying(txn)()

    def _release_port_ips(self: NetworkService, session: orm.Session, port_id: str) -> None:
        allocator.release(session, port_id)

    def _unplug_quietly(self: NetworkService, port: objects.Port,
                        network: objects.Network) -> None:
        """Remove a deleted port's devices; a failure is left to ``sync``."""
        try:
            self.driver.unplug(port, network)
        except Exception:
            LOG.exception("Unplugging port %s failed; sync will remove its devices", port.id)


class _RowView:
    """Attribute access to a dict of column values (for building objects)."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(name) from None
