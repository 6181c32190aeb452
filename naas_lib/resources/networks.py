"""Network operations of ``NetworkService``."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, events, objects, segments, validation
from naas_lib import exceptions as exc
from naas_lib import mtu as mtu_math
from naas_lib.conf import NETWORK_GROUP
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.drivers.base import NetworkContext
from naas_lib.resources import common

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)

PROVIDER = ("network_type", "segmentation_id", "physical_network")
CREATE_FIELDS = ("name", "description", "admin_state_up", "shared", "mtu", *PROVIDER,
                 "project_id", "tenant_id")
UPDATE_FIELDS = ("name", "description", "admin_state_up", "shared", "mtu")
READ_ONLY = ("id", "status", "revision_number", "subnets", "created_at", "updated_at")
FILTERS = ("id", "project_id", "name", "description", "admin_state_up", "status", "shared",
           "mtu", "network_type", "segmentation_id", "physical_network", "revision_number")


_NETWORK_BY_ID = sa.select(models.Network.__table__).where(
    models.Network.__table__.c.id == sa.bindparam("id"))


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


class NetworkOps:
    """create/get/list/update/delete of networks."""

    # -- reads -------------------------------------------------------------

    def _network_row(self: NetworkService, session: orm.Session, context: RequestContext,
                     network_id: str) -> models.Network:
        """A network the caller may see, or NetworkNotFound (never Forbidden)."""
        if not isinstance(network_id, str):
            raise exc.NetworkNotFound(net_id=network_id)
        row = session.get(models.Network, network_id)
        if row is None or not self.authorize(context, "get_network", policy_target(row)):
            raise exc.NetworkNotFound(net_id=network_id)
        return row

    def _network_record(self: NetworkService, session: orm.Session, context: RequestContext,
                        network_id: str) -> Any:
        """Like ``_network_row`` but a plain row (no ORM identity map), for hot paths."""
        row = None
        if isinstance(network_id, str):
            row = session.connection().execute(_NETWORK_BY_ID, {"id": network_id}).first()
        if row is None or not self.authorize(context, "get_network", policy_target(row)):
            raise exc.NetworkNotFound(net_id=network_id)
        return row

    def get_network(self: NetworkService, context: RequestContext, network_id: str,
                    fields: list[str] | None = None) -> objects.Network | dict[str, Any]:
        with self.db.reader() as session:
            row = self._network_row(session, context, network_id)
            net = common.load_networks(session, [row])[0]
        return net.to_dict(fields) if fields else net

    def list_networks(self: NetworkService, context: RequestContext,
                      fields: list[str] | None = None, limit: int | None = None,
                      marker: str | None = None, sorts: list[tuple[str, bool]] | None = None,
                      page_reverse: bool = False, **filters: Any) -> list:
        """Networks the caller may see, filtered by attribute values."""
        if "tenant_id" in filters:
            filters["project_id"] = filters.pop("tenant_id")
        with self.db.reader() as session:
            q = visible(sa.select(models.Network), context)
            q = common.apply_filters(q, models.Network, filters, FILTERS, "network")
            q = common.apply_paging(session, q, models.Network, FILTERS + ("created_at",),
                                    "network", sorts, limit, marker, page_reverse,
                                    exc.NetworkNotFound, "net_id")
            rows = list(session.scalars(q))
            nets = common.load_networks(session, rows)
        nets = common.finish_list(nets, fields, page_reverse)
        return [n.to_dict(fields) for n in nets] if fields else nets

    # -- create ------------------------------------------------------------

    def _validate_segment(self: NetworkService, network_type: str, seg_id: Any,
                          physnet: Any) -> tuple[int | None, str | None]:
        validation.choice("network_type", network_type, constants.NETWORK_TYPES)
        if physnet is not None:
            physnet = validation.string("physical_network", physnet, 64)
        if network_type == constants.TYPE_LOCAL:
            if seg_id is not None or physnet is not None:
                raise exc.InvalidNetworkType(network_type=network_type,
                                             reason="takes no segmentation id or physical network")
            return None, None
        if network_type == constants.TYPE_VXLAN:
            if physnet is not None:
                raise exc.InvalidNetworkType(network_type=network_type,
                                             reason="takes no physical network")
            if seg_id is not None:
                seg_id = validation.integer("segmentation_id", seg_id,
                                            constants.MIN_VNI, constants.MAX_VNI)
            elif not self.vni_ranges:
                raise exc.InvalidNetworkType(network_type=network_type,
                                             reason="no vni_ranges are configured")
            return seg_id, None
        if network_type == constants.TYPE_FLAT:
            if seg_id is not None:
                raise exc.InvalidNetworkType(network_type=network_type,
                                             reason="takes no segmentation id")
            if physnet is None:
                raise exc.InvalidNetworkType(network_type=network_type,
                                             reason="physical_network is required")
            if "*" not in self.flat_networks and physnet not in self.flat_networks:
                raise exc.InvalidNetworkType(
                    network_type=network_type,
                    reason=f"physical network {physnet} is not in [network] flat_networks")
            return None, physnet
        # vlan
        if physnet is None:
            raise exc.InvalidNetworkType(network_type=network_type,
                                         reason="physical_network is required")
        if physnet not in self.vlan_physnets:
            raise exc.InvalidNetworkType(
                network_type=network_type,
                reason=f"physical network {physnet} is not in [network] network_vlan_ranges")
        if seg_id is not None:
            seg_id = validation.integer("segmentation_id", seg_id,
                                        constants.MIN_VLAN, constants.MAX_VLAN)
        return seg_id, physnet

    def _max_mtu(self: NetworkService, network_type: str, physnet: str | None) -> int:
        net_conf = self.conf[NETWORK_GROUP]
        wire = mtu_math.physical_mtu(net_conf.global_physnet_mtu,
                                     net_conf.physical_network_mtus, physnet)
        return mtu_math.max_network_mtu(network_type, wire)

    def _check_mtu(self: NetworkService, value: Any, maximum: int, minimum: int) -> int:
        mtu = validation.integer("mtu", value)
        if not minimum <= mtu <= maximum:
            raise exc.InvalidMtu(mtu=mtu, minimum=minimum, maximum=maximum)
        return mtu

    def create_network(self: NetworkService, context: RequestContext,
                       **attrs: Any) -> objects.Network:
        """Create a network; without provider attributes it gets a tenant segment."""
        check_writable("network", attrs, CREATE_FIELDS)
        project_id = self.owner_project(context, attrs)
        name = validation.string("name", attrs.get("name", ""))
        description = validation.string("description", attrs.get("description", ""))
        admin_state_up = validation.boolean("admin_state_up", attrs.get("admin_state_up", True))
        shared = validation.boolean("shared", attrs.get("shared", False))
        self.enforce(context, "create_network", {"project_id": project_id})
        if shared:
            self.enforce(context, "create_network:shared", {"project_id": project_id})
        provider = {k: attrs[k] for k in PROVIDER if attrs.get(k) is not None}
        if provider:
            self.enforce(context, "create_network:provider", {"project_id": project_id})
        if provider and "network_type" not in provider:
            raise exc.InvalidInput(field="network_type",
                                   reason="required with segmentation_id or physical_network")
        if provider:
            candidates = [provider["network_type"]]
        else:
            candidates = list(self.conf[NETWORK_GROUP].tenant_network_types)
            if not candidates:
                raise exc.InvalidNetworkType(network_type="(none)",
                                             reason="no tenant_network_types are configured")
        segs = {}
        unusable: exc.InvalidNetworkType | None = None
        for t in candidates:
            if not provider and t == constants.TYPE_FLAT:
                continue
            try:
                segs[t] = self._validate_segment(t, provider.get("segmentation_id"),
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
        requested_mtu = attrs.get("mtu")
        for t, (_, physnet) in segs.items():
            if requested_mtu is not None:
                self._check_mtu(requested_mtu, self._max_mtu(t, physnet), constants.MIN_MTU_IPV4)
        network_id = str(uuid.uuid4())
        request = {"name": name, "description": description, "admin_state_up": admin_state_up,
                   "shared": shared, "project_id": project_id, **provider}
        self.publish(events.NETWORK, events.BEFORE_CREATE,
                     events.EventPayload(context, network_id, request=request))

        def txn() -> objects.Network:
            with self.db.writer() as session:
                now = models.utcnow()
                row = models.Network(
                    id=network_id, project_id=project_id, name=name, description=description,
                    admin_state_up=admin_state_up, status=constants.NET_STATUS_ACTIVE,
                    shared=shared, mtu=0, network_type="", segmentation_id=None,
                    physical_network=None, revision_number=1, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                last_error: exc.NaasError | None = None
                for net_type, (seg_id, physnet) in segs.items():
                    try:
                        allocated = segments.allocate(session, network_id, net_type, physnet,
                                                      seg_id)
                    except exc.NoNetworkAvailable as e:
                        last_error = e
                        continue
                    break
                else:
                    assert last_error is not None
                    raise last_error
                maximum = self._max_mtu(net_type, physnet)
                row.mtu = maximum if requested_mtu is None else int(requested_mtu)
                row.network_type, row.segmentation_id = net_type, allocated
                row.physical_network = physnet
                session.flush()
                net = common.network_obj(row, [])
                self.publish(events.NETWORK, events.PRECOMMIT_CREATE, events.EventPayload(
                    context, network_id, states=(None, net), request=request, session=session))
                self.driver.create_network_precommit(NetworkContext(net, session=session))
                return net

        net = self.retrying(txn)()
        try:
            self.driver.create_network_postcommit(NetworkContext(net))
        except Exception as e:
            self._delete_network_rows(context.elevated(), network_id)
            raise exc.DriverError(driver=self.driver.name, reason=str(e)) from e
        self.publish(events.NETWORK, events.AFTER_CREATE,
                     events.EventPayload(context, network_id, states=(None, net),
                                         request=request))
        return net

    # -- update ------------------------------------------------------------

    def update_network(self: NetworkService, context: RequestContext, network_id: str,
                       expected_revision: int | None = None, **attrs: Any) -> objects.Network:
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
        if expected_revision is not None:
            expected_revision = validation.integer("expected_revision", expected_revision, 0)
        old = self.get_network(context, network_id)
        self.enforce(context, "update_network", {"project_id": old.project_id,
                                                 "shared": old.shared})
        if "shared" in values and values["shared"] != old.shared:
            self.enforce(context, "update_network:shared", {"project_id": old.project_id})
        if "mtu" in attrs:
            values["mtu"] = self._check_mtu(
                attrs["mtu"], self._max_mtu(old.network_type, old.physical_network),
                constants.MIN_MTU_IPV6 if self._has_v6(network_id) else constants.MIN_MTU_IPV4)
        self.publish(events.NETWORK, events.BEFORE_UPDATE,
                     events.EventPayload(context, network_id, states=(old, None),
                                         request=values))

        def txn() -> tuple[objects.Network, objects.Network]:
            with self.db.writer() as session:
                row = self._network_row(session, context, network_id)
                before = common.load_networks(session, [row])[0]
                if values.get("shared") is False and before.shared:
                    self._check_unshare(session, row)
                common.bump_revision(session, models.Network, "Network", network_id,
                                     row.revision_number, expected_revision, values)
                session.expire(row)
                net = common.load_networks(session, [session.get(models.Network, network_id)])[0]
                self.publish(events.NETWORK, events.PRECOMMIT_UPDATE, events.EventPayload(
                    context, network_id, states=(before, net), request=values,
                    session=session))
                self.driver.update_network_precommit(NetworkContext(net, before, session))
                return before, net

        before, net = self.retrying(txn)()
        self._driver_postcommit(self.driver.update_network_postcommit,
                                NetworkContext(net, before))
        if self.host and before.admin_state_up != net.admin_state_up:
            self._replug_local_ports(network_id)
        self.publish(events.NETWORK, events.AFTER_UPDATE,
                     events.EventPayload(context, network_id, states=(before, net),
                                         request=values))
        return net

    def _replug_local_ports(self: NetworkService, network_id: str) -> None:
        """Apply a network's admin state to its devices on this host now, not at next sync."""
        with self.db.reader() as session:
            port_ids = list(session.scalars(sa.select(models.Port.id).where(
                models.Port.network_id == network_id,
                models.Port.binding_host_id == self.host)))
        for port_id in port_ids:
            try:
                self.plug_port(port_id)
            except exc.NaasError as e:
                LOG.warning("Re-plugging port %s after its network's update failed: %s",
                            port_id, e)

    def _has_v6(self: NetworkService, network_id: str) -> bool:
        with self.db.reader() as session:
            return session.execute(
                sa.select(models.Subnet.id).where(models.Subnet.network_id == network_id,
                                                  models.Subnet.ip_version == 6).limit(1)
            ).first() is not None

    def _check_unshare(self: NetworkService, session: orm.Session, row: models.Network) -> None:
        """A network may stop being shared only when no other project has ports on it."""
        other = session.execute(
            sa.select(models.Port.id).where(models.Port.network_id == row.id,
                                            models.Port.project_id != row.project_id).limit(1)
        ).first()
        if other is not None:
            raise exc.Conflict(f"Network {row.id} has ports of other projects; it stays shared.")

    def _driver_postcommit(self: NetworkService, hook, ctx: Any) -> None:
        """An update's postcommit failure is logged: the intent is stored, sync retries."""
        try:
            hook(ctx)
        except Exception:
            LOG.exception("Driver %s postcommit failed", self.driver.name)

    # -- delete ------------------------------------------------------------

    def delete_network(self: NetworkService, context: RequestContext, network_id: str,
                       expected_revision: int | None = None) -> None:
        """Delete a network with its subnets and unattached ports.

        Refused with NetworkInUse while any port on it is attached.
        """
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_network(context, network_id)
        self.enforce(context, "delete_network", {"project_id": old.project_id,
                                                 "shared": old.shared})
        if expected_revision is not None and expected_revision != old.revision_number:
            raise exc.RevisionConflict(resource="Network", resource_id=network_id,
                                       current=old.revision_number, expected=expected_revision)
        self.publish(events.NETWORK, events.BEFORE_DELETE,
                     events.EventPayload(context, network_id, states=(old, None)))
        net, ports = self._delete_network_rows(context, network_id, expected_revision)
        for port in ports:
            if port.binding_host_id and port.binding_host_id == self.host:
                self._unplug_quietly(port, net)
        self._driver_postcommit(self.driver.delete_network_postcommit, NetworkContext(net))
        # The ports went with the network: subscribers tracking ports hear of it too.
        for port in ports:
            self.publish(events.PORT, events.AFTER_DELETE,
                         events.EventPayload(context, port.id, states=(port, None)))
        self.publish(events.NETWORK, events.AFTER_DELETE,
                     events.EventPayload(context, network_id, states=(net, None)))

    def _delete_network_rows(self: NetworkService, context: RequestContext, network_id: str,
                             expected_revision: int | None = None):
        def txn():
            with self.db.writer() as session:
                row = self._network_row(session, context, network_id)
                if expected_revision is not None and expected_revision != row.revision_number:
                    raise exc.RevisionConflict(resource="Network", resource_id=network_id,
                                               current=row.revision_number,
                                               expected=expected_revision)
                attached = session.execute(
                    sa.select(models.Attachment.port_id)
                    .join(models.Port, models.Port.id == models.Attachment.port_id)
                    .where(models.Port.network_id == network_id).limit(1)).first()
                if attached is not None:
                    raise exc.NetworkInUse(net_id=network_id)
                net = common.load_networks(session, [row])[0]
                port_rows = list(session.scalars(
                    sa.select(models.Port).where(models.Port.network_id == network_id)))
                ports = common.load_ports(session, port_rows)
                self.publish(events.NETWORK, events.PRECOMMIT_DELETE, events.EventPayload(
                    context, network_id, states=(net, None), session=session))
                self.driver.delete_network_precommit(NetworkContext(net, session=session))
                # Ports first (their addresses go back to the pools), then subnets.
                for port in ports:
                    self._release_port_ips(session, port.id)
                session.execute(sa.delete(models.Port).where(models.Port.network_id == network_id))
                session.execute(sa.delete(models.Subnet)
                                .where(models.Subnet.network_id == network_id))
                segments.release(session, network_id)
                session.execute(sa.delete(models.Network).where(models.Network.id == network_id))
                return net, ports

        return self.retrying(txn)()
