"""Networks: create, read, update and delete, with their segments and MTU."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.ipam import allocator
from naas_lib.resources import common, dhcp, port_security
from naas_lib.resources.core import Core
from naas_lib.resources.lifecycle import (
    CREATE,
    DELETE,
    UPDATE,
    Lifecycle,
    Outcome,
    Phases,
    network_context,
)

LOG = logging.getLogger(__name__)

PROVIDER = ("network_type", "segmentation_id", "physical_network")
CREATE_FIELDS = ("name", "description", "admin_state_up", "shared", "mtu", *PROVIDER,
                 "project_id", "tenant_id", "port_security_enabled")
UPDATE_FIELDS = ("name", "description", "admin_state_up", "shared", "mtu",
                 "port_security_enabled")
READ_ONLY = ("id", "status", "revision_number", "subnets", "created_at", "updated_at")
FILTERS = ("id", "project_id", "name", "description", "admin_state_up", "status", "shared",
           "mtu", "network_type", "segmentation_id", "physical_network", "revision_number",
           "port_security_enabled")

_CREATE = Phases("network", CREATE, "create_network_precommit", "create_network_postcommit")
_UPDATE = Phases("network", UPDATE, "update_network_precommit", "update_network_postcommit")
_DELETE = Phases("network", DELETE, "delete_network_precommit", "delete_network_postcommit")
_PORT_DELETED = Phases("port", DELETE)

_LISTING = common.Listing(models.Network, "network", FILTERS, exc.NetworkNotFound, "net_id",
                          common.load_networks)


def visible(query: sa.Select, context: RequestContext) -> sa.Select:
    """Non-admins see their own networks and shared ones."""
    if context.is_admin:
        return query
    return query.where(sa.or_(models.Network.project_id == context.project_id,
                              models.Network.shared.is_(True)))


def policy_target(row: Any) -> dict[str, Any]:
    return {"project_id": row.project_id, "shared": bool(row.shared),
            "network_project_id": row.project_id}


def check_writable(resource: str, attrs: dict[str, Any], allowed: tuple) -> None:
    """Read-only fields raise RequestedStateInvalid; unknown ones UnknownField."""
    for name, value in attrs.items():
        if name == "status":
            known = value in constants.PORT_STATUSES + constants.NET_STATUSES
            raise exc.RequestedStateInvalid(
                resource=resource,
                reason=(f"status is read-only (set by the service), cannot write {value!r}"
                        if known else f"{value!r} is not a status"))
        if name in ("revision_number", "id", "created_at", "updated_at"):
            raise exc.RequestedStateInvalid(resource=resource, reason=f"{name} is read-only")
    validation.check_known(resource, attrs, allowed)


def _port_security(attrs: dict[str, Any]) -> dict[str, Any]:
    """A network's ``port_security_enabled`` (what its new ports inherit), when given."""
    if attrs.get("port_security_enabled") is None:
        return {}
    return {"port_security_enabled": validation.boolean("port_security_enabled",
                                                        attrs["port_security_enabled"])}


class HostSide(Protocol):
    """What a network change asks of this host's devices (see ``resources.plugging``)."""

    def replug_network(self, network_id: str) -> None: ...

    def unplug_deleted(self, ports: list[objects.Port], network: objects.Network) -> None: ...


class DeleteHook(Protocol):
    """Told before and after a network is deleted; ``before`` may veto by raising."""

    def before_network_delete(self, context: RequestContext, network: objects.Network) -> Any:
        ...

    def after_network_delete(self, context: RequestContext, token: Any) -> None: ...


class CreateHook(Protocol):
    """Writes that belong with a new network (its project's default group)."""

    def in_network_create(self, session: orm.Session, request: dict[str, Any]) -> Any: ...

    def after_network_create(self, context: RequestContext, token: Any) -> None: ...


class Networks:
    """create/get/list/update/delete of networks."""

    def __init__(self, core: Core, lifecycle: Lifecycle, host_side: HostSide) -> None:
        self.core = core
        self.lifecycle = lifecycle
        self.host_side = host_side
        self.delete_hooks: list[DeleteHook] = []
        self.create_hooks: list[CreateHook] = []

    # -- reads -------------------------------------------------------------

    def visible_row(self, session: orm.Session, context: RequestContext,
                    network_id: str) -> models.Network:
        """A network the caller may see, or NetworkNotFound (never Forbidden)."""
        row = session.get(models.Network, validation.lookup("network_id", network_id)) \
            if isinstance(network_id, str) else None
        if row is None or not self.core.authorize(context, "get_network", policy_target(row)):
            raise exc.NetworkNotFound(net_id=network_id)
        return row

    def visible_record(self, session: orm.Session, context: RequestContext,
                       network_id: str) -> tuple[Any, objects.Network]:
        """A plain row (no ORM identity map) and the complete network, for hot paths."""
        row, net = common.network_record(session, network_id)
        if row is None or not self.core.authorize(context, "get_network", policy_target(row)):
            raise exc.NetworkNotFound(net_id=network_id)
        return row, net

    def visible_records(self, session: orm.Session, context: RequestContext,
                        network_ids: Sequence[str]) -> dict[str, tuple[Any, objects.Network]]:
        """:meth:`visible_record` of several networks in one statement, by id.

        NetworkNotFound names the first (in the order given) that is missing or hidden.
        """
        ids = list(dict.fromkeys(network_ids))
        found = {row.id: (row, net) for row, net in common.network_records(session, ids)
                 if self.core.authorize(context, "get_network", policy_target(row))}
        for network_id in ids:
            if network_id not in found:
                raise exc.NetworkNotFound(net_id=network_id)
        return found

    def get_network(self, context: RequestContext, network_id: str,
                    fields: list[str] | None = None) -> objects.Network | dict[str, Any]:
        with self.core.db.reader() as session:
            row = self.visible_row(session, context, network_id)
            net = common.load_networks(session, [row])[0]
        return net.to_dict(fields) if fields else net

    def get_networks(self, context: RequestContext,
                     network_ids: Sequence[str]) -> list[objects.Network]:
        """The networks among ``network_ids`` the caller may see, ordered by id.

        One read of one statement: what a boot needs to check its requested
        networks (an invisible or missing one is simply absent).
        """
        ids = [validation.lookup("network_id", i) for i in network_ids]
        with self.core.db.reader() as session:
            found = common.network_records(session, sorted(set(ids)))
        return [net for row, net in found
                if self.core.authorize(context, "get_network", policy_target(row))]

    def list_networks(self, context: RequestContext, fields: list[str] | None = None,
                      limit: int | None = None, marker: str | None = None,
                      sorts: list[tuple[str, bool]] | None = None, page_reverse: bool = False,
                      **filters: Any) -> list:
        """Networks the caller may see, filtered by attribute values."""
        with self.core.db.reader() as session:
            return common.list_page(session, visible(sa.select(models.Network), context),
                                    _LISTING, filters, fields, limit, marker, sorts,
                                    page_reverse)

    # -- create ------------------------------------------------------------

    def _check_mtu(self, value: Any, maximum: int, minimum: int) -> int:
        mtu = validation.integer("mtu", value)
        if not minimum <= mtu <= maximum:
            raise exc.InvalidMtu(mtu=mtu, minimum=minimum, maximum=maximum)
        return mtu

    def _segment_candidates(self, provider: dict[str, Any]
                            ) -> dict[str, tuple[int | None, str | None]]:
        """The types to try in order, each with its validated (id, physnet)."""
        if provider and "network_type" not in provider:
            raise exc.InvalidInput(field="network_type",
                                   reason="required with segmentation_id or physical_network")
        types = self.core.types
        candidates = [provider["network_type"]] if provider else types.tenant_types()
        if not candidates:
            raise exc.InvalidNetworkType(network_type="(none)",
                                         reason="no tenant_network_types are configured")
        segs: dict[str, tuple[int | None, str | None]] = {}
        unusable: exc.InvalidNetworkType | None = None
        for name in candidates:
            net_type = types.get(name)
            if not provider and net_type.needs_physical_network \
                    and not net_type.has_segmentation_id:
                continue  # a flat tenant network would need a physical network
            try:
                segs[name] = net_type.validate(provider.get("segmentation_id"),
                                               provider.get("physical_network"))
            except exc.InvalidNetworkType as e:
                if provider:
                    raise
                # A tenant type this deployment cannot serve (no VNI ranges, a VLAN
                # with no physical network) is skipped like an exhausted one.
                unusable = unusable or e
        if not segs and unusable is not None:
            raise unusable
        if not segs:
            raise exc.InvalidNetworkType(network_type=",".join(candidates),
                                         reason="flat networks need a physical_network")
        return segs

    def _create_request(self, context: RequestContext, attrs: dict[str, Any]) -> dict[str, Any]:
        check_writable("network", attrs, CREATE_FIELDS)
        project_id = self.core.owner_project(context, attrs)
        request = {
            "name": validation.string("name", attrs.get("name", "")),
            "description": validation.string("description", attrs.get("description", "")),
            "admin_state_up": validation.boolean("admin_state_up",
                                                 attrs.get("admin_state_up", True)),
            "shared": validation.boolean("shared", attrs.get("shared", False)),
            "project_id": project_id,
            **_port_security(attrs),
        }
        self.core.enforce(context, "create_network", {"project_id": project_id})
        if request["shared"]:
            self.core.enforce(context, "create_network:shared", {"project_id": project_id})
        provider = {k: attrs[k] for k in PROVIDER if attrs.get(k) is not None}
        if provider:
            self.core.enforce(context, "create_network:provider", {"project_id": project_id})
        return {**request, **provider}

    def create_network(self, context: RequestContext, **attrs: Any) -> objects.Network:
        """Create a network; without provider attributes it gets a tenant segment."""
        request = self._create_request(context, attrs)
        provider = {k: request[k] for k in PROVIDER if k in request}
        segs = self._segment_candidates(provider)
        requested_mtu = attrs.get("mtu")
        if requested_mtu is not None:
            for name, (_, physnet) in segs.items():
                self._check_mtu(requested_mtu, self.core.types.max_mtu(name, physnet),
                                constants.MIN_MTU_IPV4)
        out = Outcome(str(uuid.uuid4()), request=request)

        def write(session: orm.Session) -> list[Outcome]:
            out.after = self._insert(session, out.resource_id, request, segs, requested_mtu)
            out.extra = [(hook, hook.in_network_create(session, request))
                         for hook in self.create_hooks]
            return [out]

        def compensate(outcomes: list[Outcome]) -> None:
            self._delete_quietly(out.resource_id)

        self.lifecycle.run(_CREATE, context, write, network_context, compensate, [out])
        for hook, token in out.extra or ():
            hook.after_network_create(context, token)
        return out.after

    def _insert(self, session: orm.Session, network_id: str, request: dict[str, Any],
                segs: dict[str, tuple[int | None, str | None]],
                requested_mtu: Any) -> objects.Network:
        now = models.utcnow()
        row = models.Network(
            id=network_id, project_id=request["project_id"], name=request["name"],
            description=request["description"], admin_state_up=request["admin_state_up"],
            status=constants.NET_STATUS_ACTIVE, shared=request["shared"], mtu=0,
            network_type="", segmentation_id=None, physical_network=None, revision_number=1,
            created_at=now, updated_at=now,
            port_security_enabled=request.get("port_security_enabled", True))
        session.add(row)
        session.flush()
        last_error: exc.NaasError | None = None
        for name, (seg_id, physnet) in segs.items():
            try:
                allocated = self.core.types.get(name).allocate(session, network_id, seg_id,
                                                               physnet)
            except exc.NoNetworkAvailable as e:
                last_error = e
                continue
            break
        else:
            assert last_error is not None
            raise last_error
        maximum = self.core.types.max_mtu(name, physnet)
        row.mtu = maximum if requested_mtu is None else int(requested_mtu)
        row.network_type, row.segmentation_id, row.physical_network = name, allocated, physnet
        session.flush()
        return common.network_obj(row, [])

    # -- update ------------------------------------------------------------

    def _update_values(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in PROVIDER:
            if name in attrs:
                raise exc.InvalidInput(field=name, reason="cannot be changed after creation")
        check_writable("network", attrs, UPDATE_FIELDS)
        values: dict[str, Any] = {}
        for name in ("name", "description"):
            if name in attrs:
                values[name] = validation.string(name, attrs[name])
        for name in ("admin_state_up", "shared"):
            if name in attrs:
                values[name] = validation.boolean(name, attrs[name])
        values.update(_port_security(attrs))
        return values

    def update_network(self, context: RequestContext, network_id: str,
                       expected_revision: int | None = None, **attrs: Any) -> objects.Network:
        values = self._update_values(attrs)
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_network(context, network_id)
        self.core.enforce(context, "update_network", {"project_id": old.project_id,
                                                      "shared": old.shared})
        if "shared" in values and values["shared"] != old.shared:
            self.core.enforce(context, "update_network:shared", {"project_id": old.project_id})
        if "mtu" in attrs:
            values["mtu"] = self._check_mtu(
                attrs["mtu"], self.core.types.max_mtu(old.network_type, old.physical_network),
                constants.MIN_MTU_IPV6 if self._has_v6(network_id) else constants.MIN_MTU_IPV4)
        out = Outcome(network_id, before=old, request=values)

        def write(session: orm.Session) -> list[Outcome]:
            row = self.visible_row(session, context, network_id)
            out.before = common.load_networks(session, [row])[0]
            if values.get("shared") is False and out.before.shared:
                self._check_unshare(session, row)
            common.bump_revision(session, models.Network, "Network", network_id,
                                 row.revision_number, expected_revision, values)
            session.expire(row)
            out.after = common.load_networks(session, [session.get(models.Network,
                                                                   network_id)])[0]
            return [out]

        self.lifecycle.run(_UPDATE, context, write, network_context, announced=[out],
                           after_postcommit=self._replug_if_state_changed)
        return out.after

    def _replug_if_state_changed(self, outcomes: list[Outcome]) -> None:
        out = outcomes[0]
        if out.before.admin_state_up != out.after.admin_state_up:
            self.host_side.replug_network(out.resource_id)

    def _has_v6(self, network_id: str) -> bool:
        with self.core.db.reader() as session:
            return session.execute(
                sa.select(models.Subnet.id).where(models.Subnet.network_id == network_id,
                                                  models.Subnet.ip_version == 6).limit(1)
            ).first() is not None

    def _check_unshare(self, session: orm.Session, row: models.Network) -> None:
        """A network may stop being shared only when no other project has ports on it."""
        other = session.execute(
            sa.select(models.Port.id).where(models.Port.network_id == row.id,
                                            models.Port.project_id != row.project_id).limit(1)
        ).first()
        if other is not None:
            raise exc.Conflict(f"Network {row.id} has ports of other projects; it stays shared.")

    # -- delete ------------------------------------------------------------

    def delete_network(self, context: RequestContext, network_id: str,
                       expected_revision: int | None = None) -> None:
        """Delete a network with its subnets and unattached ports.

        Refused with NetworkInUse while any port on it is attached. Each
        registered delete hook (the service registry) is asked first.
        """
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_network(context, network_id)
        self.core.enforce(context, "delete_network", {"project_id": old.project_id,
                                                      "shared": old.shared})
        if expected_revision is not None and expected_revision != old.revision_number:
            raise exc.RevisionConflict(resource="Network", resource_id=network_id,
                                       current=old.revision_number, expected=expected_revision)
        tokens = [(hook, hook.before_network_delete(context, old)) for hook in self.delete_hooks]
        self.lifecycle.run(
            _DELETE, context, lambda session: [self._delete_in_session(
                session, context, network_id, expected_revision)],
            network_context, announced=[Outcome(network_id, before=old)],
            finish=lambda session, outcomes: self._purge(session, outcomes[0]),
            after_postcommit=self._announce_port_deletes(context))
        for hook, token in tokens:
            hook.after_network_delete(context, token)

    def _announce_port_deletes(self, context: RequestContext
                               ) -> Callable[[list[Outcome]], None]:
        def announce(outcomes: list[Outcome]) -> None:
            out = outcomes[0]
            ports = out.extra
            self.host_side.unplug_deleted(ports, out.before)
            # The ports went with the network: subscribers tracking ports hear of it too.
            self.lifecycle.after(_PORT_DELETED, context,
                                 [Outcome(p.id, before=p) for p in ports
                                  if not dhcp.is_reservation(p)])
        return announce

    def _delete_in_session(self, session: orm.Session, context: RequestContext,
                           network_id: str, expected_revision: int | None) -> Outcome:
        row = self.visible_row(session, context, network_id)
        if expected_revision is not None and expected_revision != row.revision_number:
            raise exc.RevisionConflict(resource="Network", resource_id=network_id,
                                       current=row.revision_number, expected=expected_revision)
        attached = session.execute(
            sa.select(models.Attachment.port_id)
            .join(models.Port, models.Port.id == models.Attachment.port_id)
            .where(models.Port.network_id == network_id).limit(1)).first()
        if attached is not None:
            raise exc.NetworkInUse(net_id=network_id)
        net = common.load_networks(session, [row])[0]
        ports = common.load_ports(session, list(session.scalars(
            sa.select(models.Port).where(models.Port.network_id == network_id))))
        return Outcome(network_id, before=net, extra=ports)

    def _delete_quietly(self, network_id: str) -> None:
        """Undo a create whose realization failed: its rows go, without events."""
        def txn() -> None:
            with self.core.db.writer() as session:
                row = session.get(models.Network, network_id)
                if row is not None:
                    net = common.load_networks(session, [row])[0]
                    self._purge(session, Outcome(network_id, before=net, extra=[]))

        self.core.retrying(txn)()

    def _purge(self, session: orm.Session, out: Outcome) -> None:
        """Remove a network's rows after its PRECOMMIT: ports, subnets, segment, network."""
        network_id = out.resource_id
        for port in out.extra:
            allocator.release(session, port.id)
        port_security.forget_ports(session, [p.id for p in out.extra])
        session.execute(sa.delete(models.PortBinding).where(models.PortBinding.port_id.in_(
            sa.select(models.Port.id).where(models.Port.network_id == network_id))))
        session.execute(sa.delete(models.Port).where(models.Port.network_id == network_id))
        session.execute(sa.delete(models.Subnet).where(models.Subnet.network_id == network_id))
        self.core.types.get(out.before.network_type).release(session, network_id)
        session.execute(sa.delete(models.Network).where(models.Network.id == network_id))
