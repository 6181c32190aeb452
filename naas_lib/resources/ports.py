"""Ports: create (one or a boot's batch), read, update and delete, with MACs and addresses."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.ipam import allocator, macs
from naas_lib.ipam import bulk as bulk_ipam
from naas_lib.resources import common, dhcp, port_security
from naas_lib.resources import lifecycle as lc
from naas_lib.resources.attaching import AttachmentRecorder
from naas_lib.resources.binding import Binder
from naas_lib.resources.core import Core
from naas_lib.resources.networks import Networks, check_writable, policy_target
from naas_lib.resources.plugging import Plugging

LOG = logging.getLogger(__name__)

BINDING = ("binding_host_id", "binding_profile")
CREATE_FIELDS = ("network_id", "name", "description", "admin_state_up", "mac_address",
                 "fixed_ips", "device_id", "device_owner", *BINDING, "project_id", "tenant_id",
                 *port_security.FIELDS)
UPDATE_FIELDS = ("name", "description", "admin_state_up", "mac_address", "fixed_ips",
                 "device_id", "device_owner", *BINDING, *port_security.FIELDS)
READ_ONLY_BINDING = ("binding_vif_type", "binding_vif_details")
FILTERS = ("id", "project_id", "network_id", "name", "description", "mac_address",
           "admin_state_up", "status", "device_id", "device_owner", "binding_host_id",
           "binding_vif_type", "revision_number", "port_security_enabled")
_port_table = models.Port.__table__
#: Requests a bulk create leaves to the port-by-port path (chosen MACs and addresses).
_NOT_BULK = ("fixed_ips", "mac_address")
#: Update fields that change only columns of the port row: the updated port is
#: built from what was written instead of being read again.
_COLUMNS_ONLY = frozenset({"name", "description", "admin_state_up", "device_id",
                           "device_owner", "mac_address"})
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
    v.update(port_security.validated(attrs))
    return v


def lost_race(e: db_exc.DBDuplicateEntry) -> db_exc.RetryRequest:
    """A unique constraint refused a MAC or address another request just took.

    The operation runs again: a requested value is then found taken by the
    checks before the insert (MacAddressInUse / IpAddressInUse naming it),
    and a generated one is chosen afresh.
    """
    return db_exc.RetryRequest(e)


_LISTING = common.Listing(models.Port, "port", FILTERS, exc.PortNotFound, "port_id",
                          common.load_ports)
_CREATE = lc.Phases("port", lc.CREATE, "create_port_precommit", "create_port_postcommit")
_UPDATE = lc.Phases("port", lc.UPDATE, "update_port_precommit", "update_port_postcommit")
_DELETE = lc.Phases("port", lc.DELETE, "delete_port_precommit", "delete_port_postcommit")
_ATTACH = lc.Phases("attachment", lc.CREATE)


@dataclasses.dataclass(eq=False)
class Ports:
    """create/get/list/update/delete of ports."""

    core: Core
    lifecycle: lc.Lifecycle
    networks: Networks
    binder: Binder
    recorder: AttachmentRecorder
    plugging: Plugging
    #: Port security fields and their host-side effects (issue 11).
    security: port_security.PortSecurityFields | None = None
    security_host: port_security.SecurityHostSide | None = None

    # -- reads -------------------------------------------------------------

    def visible_row(self, session: orm.Session, context: RequestContext,
                    port_id: str) -> models.Port:
        """A port the caller may see, or PortNotFound (never Forbidden)."""
        row = session.get(models.Port, validation.lookup("port_id", port_id)) \
            if isinstance(port_id, str) else None
        if row is None or not self.core.authorize(context, "get_port",
                                                  {"project_id": row.project_id}):
            raise exc.PortNotFound(port_id=port_id)
        return row

    def visible_record(self, session: orm.Session, context: RequestContext,
                       port_id: str) -> tuple[Any, objects.Port]:
        """A port the caller may see as (plain row, object), or PortNotFound.

        The row has the ACTIVE binding's attributes and ``attached_interface``
        (None when the port has no attachment); two statements in all.
        """
        row, port = common.port_record(session, validation.lookup("port_id", port_id)) \
            if isinstance(port_id, str) else (None, None)
        if row is None or not self.core.authorize(context, "get_port",
                                                  {"project_id": row.project_id}):
            raise exc.PortNotFound(port_id=port_id)
        return row, port

    def visible_records(self, session: orm.Session, context: RequestContext,
                        port_ids: Sequence[str]) -> Callable[[str], tuple[Any, objects.Port]]:
        """Read several ports at once (two statements); a lookup of one of them that acts
        as :meth:`visible_record` (PortNotFound when missing or not the caller's to see).

        The caller looks them up in its own order, so its checks between one
        port and the next keep their order.
        """
        found = common.port_records(session, [validation.lookup("port_id", i)
                                              for i in port_ids])

        def lookup(port_id: str) -> tuple[Any, objects.Port]:
            record = found.get(port_id)
            if record is None or not self.core.authorize(context, "get_port",
                                                         {"project_id": record[0].project_id}):
                raise exc.PortNotFound(port_id=port_id)
            return record

        return lookup

    def get_port(self, context: RequestContext, port_id: str,
                 fields: list[str] | None = None) -> objects.Port | dict[str, Any]:
        with self.core.db.reader() as session:
            port = self.visible_record(session, context, port_id)[1]
        return port.to_dict(fields) if fields else port

    def list_ports(self, context: RequestContext, fields: list[str] | None = None,
                   limit: int | None = None, marker: str | None = None,
                   sorts: list[tuple[str, bool]] | None = None, page_reverse: bool = False,
                   **filters: Any) -> list:
        """Ports the caller may see; ``fixed_ips`` filters by subnet_id and/or ip_address.

        The DHCP responders' reservation port of a network is listed only when
        the filter names a ``device_owner`` (as Nova asks for
        ``network:dhcp``), so customers see the ports they made.
        """
        ip_filter = filters.pop("fixed_ips", None)
        with self.core.db.reader() as session:
            q = sa.select(models.Port)
            if not context.is_admin:
                q = q.where(models.Port.project_id == context.project_id)
            if "device_owner" not in filters:
                q = q.where(dhcp.not_reservation())
            if ip_filter is not None:
                q = _filter_fixed_ips(q, ip_filter)
            return common.list_page(session, q, _LISTING, filters, fields, limit, marker, sorts,
                                    page_reverse)

    # -- create ------------------------------------------------------------

    def _prepare_port(self, context: RequestContext, attrs: dict[str, Any]) -> dict[str, Any]:
        """Everything about a new port that needs no transaction."""
        attrs = dict(attrs)
        if "network_id" not in attrs:
            raise exc.InvalidInput(field="network_id", reason="required")
        network_id = validation.uuid_str("network_id", attrs["network_id"])
        project_id = self.core.owner_project(context, attrs)
        v = _validated(attrs, creating=True)
        if any(k in v for k in BINDING):
            self.core.enforce(context, "create_port:binding", {"project_id": project_id})
        v.update(network_id=network_id, project_id=project_id, id=str(uuid.uuid4()))
        return v

    def _insert_port(self, session: orm.Session, context: RequestContext, v: dict[str, Any],
                     net_row: Any, net: objects.Network) -> objects.Port:
        """Insert one port with its MAC and addresses inside the caller's transaction."""
        self.core.enforce(context, "create_port", {**policy_target(net_row),
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
            "mac_address": mac or self.core.generate_mac(),
            "admin_state_up": v.get("admin_state_up", True),
            "status": constants.PORT_STATUS_DOWN, "status_reason": None,
            "device_id": v.get("device_id", ""), "device_owner": v.get("device_owner", ""),
            "revision_number": 1, "created_at": now, "updated_at": now,
            "port_security_enabled": port_security.enabled_for(v, net_row),
        }
        profile = json.dumps(v.get("binding_profile", {}))
        try:
            conn.execute(_INSERT_PORT, row)
            self.binder.insert_unbound(session, [{"id": v["id"], "binding_profile": profile}])
            ips = allocator.allocate(session, v["id"], net_row.id, v.get("fixed_ips"))
        except db_exc.DBDuplicateEntry as e:
            raise lost_race(e) from e
        groups, pairs = self._security_on_create(session, context, v, row)
        port = common.port_obj(_RowView({
            **row, "binding_host_id": None, "binding_profile": profile,
            "binding_vif_type": constants.VIF_TYPE_UNBOUND, "binding_vif_details": "{}"}), ips,
            groups, pairs)
        if v.get("binding_host_id"):
            port = self.binder.bind(session, port, net, v["binding_host_id"])
        return port

    def _security_on_create(self, session: orm.Session, context: RequestContext,
                            v: dict[str, Any], row: dict[str, Any]) -> tuple[list, list]:
        if self.security is None:
            return [], []
        return self.security.on_create(session, context, v, row["port_security_enabled"],
                                       row["mac_address"])

    def create_port(self, context: RequestContext, **attrs: Any) -> objects.Port:
        """Create a port with a MAC and addresses (automatic unless ``fixed_ips`` says)."""
        return self.create_ports(context, [attrs])[0]

    def _attach_requests(self, prepared: list[dict[str, Any]], attachments: Any
                         ) -> list[dict[str, Any] | None]:
        if attachments is not None and (not isinstance(attachments, (list, tuple))
                                        or len(attachments) != len(prepared)):
            raise exc.InvalidInput(field="attachments", reason="one entry (or None) per port")
        return [
            None if a is None else self.recorder.request(
                # Nova names a VIF after its port: the default interface id.
                a.get("interface_id") or v["id"], a.get("instance_id"), a.get("host"))
            for v, a in zip(prepared, attachments or [None] * len(prepared), strict=True)]

    def create_ports(self, context: RequestContext, ports: Sequence[Mapping[str, Any]],
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
        return list(self._create(context, ports, attachments, None, False).ports)

    def create_instance_ports(self, context: RequestContext,
                              ports: Sequence[Mapping[str, Any]],
                              attachments: Sequence[Mapping[str, Any] | None],
                              caller: RequestContext | None = None) -> objects.InstancePorts:
        """:meth:`create_ports` for a boot, returning what its plug and network info need.

        The same one write transaction also checks that ``caller`` (the
        user behind an elevated ``context``) may see each network
        (NetworkNotFound otherwise), and reads the networks' subnets, their
        DHCP responders' addresses, the capabilities of the attachments'
        hosts and what plugging the ports on this host needs
        (``plug_ahead``, for :meth:`~naas_lib.resources.plugging.Plugging.plug_ports`):
        a boot opens no other transaction before its status write.
        """
        return self._create(context, ports, attachments, caller, True)

    def _create(self, context: RequestContext, ports: Sequence[Mapping[str, Any]],
                attachments: Sequence[Mapping[str, Any] | None] | None,
                caller: RequestContext | None, for_boot: bool) -> objects.InstancePorts:
        if not isinstance(ports, (list, tuple)):
            raise exc.InvalidInput(field="ports", reason="must be a list")
        if not all(isinstance(p, Mapping) for p in ports):
            raise exc.InvalidInput(field="ports", reason="each entry is a dictionary")
        prepared = [self._prepare_port(context, dict(p)) for p in ports]
        requests = self._attach_requests(prepared, attachments)
        outs = [lc.Outcome(v["id"], request=v, extra=a) for v, a in zip(prepared, requests,
                                                                     strict=True)]
        att_outs = [lc.Outcome(o.resource_id, request=o.extra) for o in outs if o.extra]
        read: dict[str, Any] = {}

        def finish(session: orm.Session, _outs: list[lc.Outcome]) -> None:
            self._attach_new(session, context, outs, att_outs)
            if for_boot:
                read.update(self._boot_reads(session, outs))

        self.lifecycle.before(_CREATE, context, outs)
        self.lifecycle.before(_ATTACH, context, att_outs)
        self.lifecycle.run(
            _CREATE, context,
            lambda session: self._insert_ports(session, context, outs, caller or context),
            lc.port_context, compensate=self._remove_created, finish=finish)
        self.lifecycle.after(_ATTACH, context, att_outs)
        if self.security is not None and self.security_host is not None:
            self.security.announce(context, prepared)
            self.security_host.ports_changed([(None, o.after) for o in outs])
        return objects.InstancePorts(
            ports=tuple(o.after for o in outs),
            networks={o.network.id: o.network for o in outs}, **read)

    def _boot_reads(self, session: orm.Session, outs: list[lc.Outcome]) -> dict[str, Any]:
        """What a boot reads besides its ports, inside the transaction that made them."""
        ports = [o.after for o in outs]
        hosts = sorted({p.binding_host_id for p in ports if p.binding_host_id})
        subnets, reserved, caps = self.plugging.network_info_sources_in(
            session, [p.network_id for p in ports], hosts)
        here = [p for p in ports if self.core.host and p.binding_host_id == self.core.host]
        return {"subnets": subnets, "dhcp_reserved": reserved, "host_capabilities": caps,
                "plug_ahead": self.plugging.read_ahead(session, here) if here else None}

    def _insert_ports(self, session: orm.Session, context: RequestContext,
                      outs: list[lc.Outcome], visible_to: RequestContext) -> list[lc.Outcome]:
        """Insert ``outs``; their networks must be visible to ``visible_to``."""
        nets = self.networks.visible_records(
            session, visible_to, [out.request["network_id"] for out in outs])
        batches: dict[str, list[lc.Outcome]] = {}
        for out in outs:
            network_id = out.request["network_id"]
            out.network, out.written = nets[network_id][1], None
            if not any(k in out.request for k in _NOT_BULK):
                batches.setdefault(network_id, []).append(out)
        # Decided afresh on every attempt: a retried transaction starts from
        # scratch, whatever an earlier attempt left in the outcomes.
        simple = [out for batch in batches.values() for out in batch]
        if len(simple) < 2:
            simple = []
        done = {id(out) for out in simple}
        if simple:
            self._insert_bulk(session, context, simple, nets)
        for out in outs:
            if id(out) not in done:
                net_row, _ = nets[out.request["network_id"]]
                out.after = self._insert_port(session, context, out.request, net_row,
                                              out.network)
        return outs

    def _insert_bulk(self, session: orm.Session, context: RequestContext,
                     outs: list[lc.Outcome], nets: dict[str, tuple[Any, objects.Network]]
                     ) -> None:
        """Many automatic ports, on one network or several: one insert per table for all.

        What :meth:`_insert_port` does port by port, in a constant number of
        statements (a boot's NICs, a boot storm's batch; issue 13); addresses
        per network (:mod:`~naas_lib.ipam.bulk` for several ports of one
        network, the allocator's contention-aware path for one). A port that
        asks to be attached (``out.extra``) is inserted as its attachment
        leaves it (device, status, revision and binding): ``_attach_new``
        then only records the attachment. ``out.after`` is the port as
        created, unattached.
        """
        checked: set[tuple[str, str]] = set()
        rows, profiles, by_network = [], [], {}
        now = models.utcnow()
        for out, mac in zip(outs, macs.generate_many(self.core.base_mac, len(outs)),
                            strict=True):
            v = out.request
            net_row = nets[v["network_id"]][0]
            if (v["project_id"], net_row.id) not in checked:
                self.core.enforce(context, "create_port", {**policy_target(net_row),
                                                           "project_id": v["project_id"]})
                checked.add((v["project_id"], net_row.id))
            by_network.setdefault(net_row.id, []).append(v["id"])
            rows.append({
                "id": v["id"], "project_id": v["project_id"], "network_id": net_row.id,
                "name": v.get("name", ""), "description": v.get("description", ""),
                "mac_address": mac, "admin_state_up": v.get("admin_state_up", True),
                "status": constants.PORT_STATUS_DOWN, "status_reason": None,
                "device_id": v.get("device_id", ""), "device_owner": v.get("device_owner", ""),
                "revision_number": 1, "created_at": now, "updated_at": now,
                "port_security_enabled": port_security.enabled_for(v, net_row)})
            profiles.append(json.dumps(v.get("binding_profile", {})))
        # The rows as written: an attached port as its attachment leaves it.
        written = [row if out.extra is None else {**row, **AttachmentRecorder.attached_values(
            row["status"], row["device_id"], row["revision_number"], out.extra, now)}
            for out, row in zip(outs, rows, strict=True)]
        try:
            session.connection().execute(_INSERT_PORT, written)
            ips: dict[str, list[tuple[str, str]]] = {}
            for network_id, port_ids in by_network.items():
                if len(port_ids) > 1:
                    ips.update(bulk_ipam.allocate_many(session, network_id, port_ids,
                                                       insert=False))
            ips.update(allocator.allocate_each(session, [
                (port_ids[0], network_id) for network_id, port_ids in by_network.items()
                if len(port_ids) == 1]))
            allocator.insert_allocations(session, [
                (row["id"], row["network_id"], ips[row["id"]]) for row in rows])
        except db_exc.DBDuplicateEntry as e:
            raise lost_race(e) from e
        if self.security is not None:
            security = self.security.on_create_many(
                session, context, [o.request for o in outs],
                [r["port_security_enabled"] for r in rows], [r["mac_address"] for r in rows])
        else:
            security = [([], [])] * len(rows)
        bindings = []
        for out, row, profile, (groups, pairs) in zip(outs, rows, profiles, security,
                                                      strict=True):
            out.after = common.port_obj(_RowView({
                **row, "binding_host_id": None, "binding_profile": profile,
                "binding_vif_type": constants.VIF_TYPE_UNBOUND, "binding_vif_details": "{}"}),
                ips[row["id"]], groups, pairs)
            host = out.extra["host"] if out.extra else out.request.get("binding_host_id")
            values = self.binder.chosen(session, out.after, out.network, host) if host else None
            bindings.append((row["id"], profile, values))
            if values is not None and out.extra:
                out.written = values  # bound with the attachment (``_attach_new``)
            elif values is not None:  # bound by the request itself (binding:host_id)
                out.after = Binder.as_bound(out.after, values)
        self.binder.insert_active(session, bindings)

    def _attach_new(self, session: orm.Session, context: RequestContext, outs: list[lc.Outcome],
                    att_outs: list[lc.Outcome]) -> None:
        """Attach and bind the new ports that asked for it (after their PRECOMMIT)."""
        wanted = [out for out in outs if out.extra]
        recorded = self.recorder.record_new(
            session, context, [(o.after, o.network, o.extra) for o in wanted],
            [o.written for o in wanted])
        for out, att_out, (att, port) in zip(wanted, att_outs, recorded, strict=True):
            out.after, att_out.after = port, att
        self.lifecycle.precommit(_ATTACH, context, att_outs, session, None)

    def _remove_created(self, outs: list[lc.Outcome]) -> None:
        for out in outs:
            self.remove_rows(out.resource_id)

    # -- update ------------------------------------------------------------

    def update_port(self, context: RequestContext, port_id: str,
                    expected_revision: int | None = None, **attrs: Any) -> objects.Port:
        """Change a port; new ``fixed_ips`` release the addresses no longer listed.

        One write transaction reads the port, checks the policy, publishes the
        BEFORE event (only when something listens) and writes.
        """
        v = _validated(attrs, creating=False)
        expected_revision = common.expected_revision(expected_revision)
        out = lc.Outcome(port_id, request=v)

        def write(session: orm.Session) -> list[lc.Outcome]:
            self._update_in_session(session, context, out, expected_revision)
            return [out]

        def host_side(outs: list[lc.Outcome]) -> None:
            out.after = self.plugging.after_port_update(out.before, out.after, out.network)
            if self.security_host is not None:
                out.after = self.security_host.after_port_update(out.before, out.after,
                                                                 self.plugging)

        try:
            self.lifecycle.run(_UPDATE, context, write, lc.port_context,
                               after_postcommit=host_side)
        except exc.BindingFailed as e:
            self.plugging.set_port_status(port_id, constants.PORT_STATUS_ERROR, e.message[:255])
            raise
        return out.after

    def _update_in_session(self, session: orm.Session, context: RequestContext, out: lc.Outcome,
                           expected_revision: int | None) -> None:
        v, port_id = out.request, out.resource_id
        row, before = self.visible_record(session, context, port_id)
        out.before = before
        self.core.enforce(context, "update_port", {"project_id": before.project_id})
        if any(k in v for k in BINDING):
            self.core.enforce(context, "update_port:binding", {"project_id": before.project_id})
        self.lifecycle.before_once(_UPDATE, context, [out])
        out.network = common.network_by_id(session, row.network_id)
        values = self._column_values(session, row, v)
        if self.security is not None:
            values.update(self.security.on_update(session, context, row, before, v))
        values["updated_at"] = models.utcnow()
        try:
            revision = common.bump_revision(session, models.Port, "Port", port_id,
                                            row.revision_number, expected_revision, values)
            if "fixed_ips" in v:
                _replace_ips(session, before, v["fixed_ips"])
        except db_exc.DBDuplicateEntry as e:
            raise lost_race(e) from e
        if set(v) <= _COLUMNS_ONLY:
            # Only columns of the port row changed: the port as written, not re-read.
            port = dataclasses.replace(before, **values, revision_number=revision)
        else:
            session.expire_all()
            port = common.load_ports(session, [session.get(models.Port, port_id)])[0]
        if "binding_host_id" in v and v["binding_host_id"] != before.binding_host_id:
            if v["binding_host_id"]:
                port = self.binder.bind(session, port, out.network, v["binding_host_id"])
            else:
                self.binder.unbind(session, port_id)
                session.execute(sa.update(_port_table).where(_port_table.c.id == port_id)
                                .values(**self.binder.unbind_values()))
                # populate_existing: the row in the session predates the UPDATE.
                port = common.load_ports(session, [session.get(
                    models.Port, port_id, populate_existing=True)])[0]
        out.after = port

    @staticmethod
    def _column_values(session: orm.Session, row: models.Port, v: dict[str, Any]
                       ) -> dict[str, Any]:
        """The port columns an update writes (MAC checked, status following admin state)."""
        values = {k: v[k] for k in ("name", "description", "admin_state_up",
                                    "device_id", "device_owner") if k in v}
        if "binding_profile" in v:
            Binder.set_profile(session, row.id, v["binding_profile"])
        mac = v.get("mac_address")
        if mac is not None and mac != row.mac_address:
            if row.binding_host_id:
                raise exc.Conflict(f"Port {row.id} is bound; its MAC cannot change.")
            if session.connection().execute(
                    _MAC_ON_NETWORK, {"n": row.network_id, "m": mac}).first():
                raise exc.MacAddressInUse(mac=mac, net_id=row.network_id)
            values["mac_address"] = mac
        if values.get("admin_state_up") is False and row.status in (
                constants.PORT_STATUS_ACTIVE, constants.PORT_STATUS_BUILD):
            values["status"] = constants.PORT_STATUS_DOWN
        return values

    # -- delete ------------------------------------------------------------

    def delete_port(self, context: RequestContext, port_id: str,
                    expected_revision: int | None = None) -> None:
        """Delete a port and free its addresses; refused with PortInUse while attached.

        One write transaction reads the port, checks the policy, publishes the
        BEFORE event (only when something listens) and deletes.
        """
        self.delete_ports(context, [port_id], common.expected_revision(expected_revision))

    def delete_ports(self, context: RequestContext, port_ids: Sequence[str],
                     expected_revision: int | None = None) -> None:
        """Delete several ports (an instance's) in one write transaction: all or none.

        As :meth:`delete_port` for each; ``expected_revision`` only with one port.
        """
        if not isinstance(port_ids, (list, tuple)):
            raise exc.InvalidInput(field="port_ids", reason="must be a list")
        if expected_revision is not None and len(port_ids) != 1:
            raise exc.InvalidInput(field="expected_revision", reason="only with one port")
        outs = [lc.Outcome(port_id) for port_id in dict.fromkeys(
            validation.lookup("port_id", i) for i in port_ids)]

        def write(session: orm.Session) -> list[lc.Outcome]:
            record = self.visible_records(session, context, [o.resource_id for o in outs])
            rows = []
            for out in outs:
                row, out.before = record(out.resource_id)
                rows.append(row)
                self.core.enforce(context, "delete_port", {"project_id": row.project_id})
                self.lifecycle.before_once(_DELETE, context, [out])
                if expected_revision is not None and expected_revision != row.revision_number:
                    raise exc.RevisionConflict(resource="Port", resource_id=out.resource_id,
                                               current=row.revision_number,
                                               expected=expected_revision)
                if row.attached_interface is not None:
                    raise exc.PortInUse(port_id=out.resource_id,
                                        interface_id=row.attached_interface)
            nets = {n.id: n for _r, n in common.network_records(
                session, sorted({r.network_id for r in rows}))}
            for out, row in zip(outs, rows, strict=True):
                out.network = nets[row.network_id]
            return outs

        def purge(session: orm.Session, _outs: list[lc.Outcome]) -> None:
            _purge_known(session, [out.before for out in outs])

        if outs:
            self.lifecycle.run(_DELETE, context, write, lc.port_context, finish=purge,
                               after_postcommit=lambda _: self._after_delete(outs))

    def _after_delete(self, outs: list[lc.Outcome]) -> None:
        self.plugging.unplug_quietly_many([(o.before, o.network) for o in outs])
        if self.security_host is not None:
            self.security_host.ports_changed([(o.before, None) for o in outs])

    def remove_rows(self, port_id: str) -> None:
        """Remove a port's rows without events (undoing a create, or an instance's own port)."""
        def txn() -> None:
            with self.core.db.writer() as session:
                _purge(session, port_id)

        self.core.retrying(txn)()


_psg_t, _aap_t = models.PortSecurityGroup.__table__, models.AllowedAddressPair.__table__
_atts_t, _bindings_t = models.Attachment.__table__, models.PortBinding.__table__
_P = sa.bindparam("p")
_PURGE_BINDINGS = sa.delete(_bindings_t).where(_bindings_t.c.port_id == _P)
_PURGE_ATTACHMENT = sa.delete(_atts_t).where(_atts_t.c.port_id == _P)
_PURGE_PORT = sa.delete(_port_table).where(_port_table.c.id == _P)


def _purge(session: orm.Session, port_id: str) -> None:
    """Delete all of a port's rows (undoing a create: nothing about it was read)."""
    allocator.release(session, port_id)
    conn = session.connection()
    port_security.forget_ports(session, [port_id])
    conn.execute(_PURGE_BINDINGS, {"p": port_id})
    conn.execute(_PURGE_ATTACHMENT, {"p": port_id})
    conn.execute(_PURGE_PORT, {"p": port_id})


_PS = sa.bindparam("ps", expanding=True)
_PURGE_GROUPS_OF = sa.delete(_psg_t).where(_psg_t.c.port_id.in_(_PS))
_PURGE_PAIRS_OF = sa.delete(_aap_t).where(_aap_t.c.port_id.in_(_PS))
_PURGE_BINDINGS_OF = sa.delete(_bindings_t).where(_bindings_t.c.port_id.in_(_PS))
_PURGE_PORTS = sa.delete(_port_table).where(_port_table.c.id.in_(_PS))


def _purge_known(session: orm.Session, ports: Sequence[objects.Port]) -> None:
    """Delete the rows of ports read in this transaction and found unattached.

    As :func:`_purge` with ``known`` for each, in one statement per table.
    """
    for port in ports:
        allocator.release(session, port.id)
    conn = session.connection()
    with_groups = [p.id for p in ports if p.security_groups]
    with_pairs = [p.id for p in ports if p.allowed_address_pairs]
    if with_groups:
        conn.execute(_PURGE_GROUPS_OF, {"ps": with_groups})
    if with_pairs:
        conn.execute(_PURGE_PAIRS_OF, {"ps": with_pairs})
    ids = [p.id for p in ports]
    conn.execute(_PURGE_BINDINGS_OF, {"ps": ids})
    conn.execute(_PURGE_PORTS, {"ps": ids})


def _filter_fixed_ips(q: sa.Select, ip_filter: Any) -> sa.Select:
    entries = ip_filter if isinstance(ip_filter, (list, tuple)) else [ip_filter]
    for entry in entries:
        if not isinstance(entry, Mapping) or set(entry) - {"subnet_id", "ip_address"}:
            raise exc.InvalidInput(field="fixed_ips",
                                   reason="filter is {'subnet_id'?, 'ip_address'?}")
        sub = sa.select(models.IpAllocation.port_id)
        for k, val in entry.items():
            sub = sub.where(getattr(models.IpAllocation, k) == val)
        q = q.where(models.Port.id.in_(sub))
    return q


def _replace_ips(session: orm.Session, before: objects.Port,
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
