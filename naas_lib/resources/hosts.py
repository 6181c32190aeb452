"""Hosts of ``NetworkService``: the registry, binding for other hosts, and sync.

* **Registry.** A service built with ``host=H`` records H in the ``hosts``
  table when it starts: its VXLAN endpoint, driver name and what the driver
  can realize. :meth:`HostOps.heartbeat` refreshes ``heartbeat_at``; a host
  whose heartbeat is older than ``[hosts] host_down_time`` is treated as gone
  (other hosts drop their forwarding entries towards it).
* **Binding for another host.** Any process (the API server, another host)
  may bind a port to H. The decision uses what H recorded, never the binding
  process's own driver: H's capabilities say whether the network can be
  realized there, and H's driver class (loaded by name, never configured or
  started) chooses the VIF type and details with its pure ``bind_port``.
* **Reconciliation.** :meth:`HostOps.desired_state` reads what this host
  should have; :meth:`HostOps.sync` lets the driver make it so and records
  the port statuses; :meth:`HostOps.start_sync` runs that periodically.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants, objects
from naas_lib import exceptions as exc
from naas_lib.conf import HOSTS_GROUP
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.drivers import base as driver_base
from naas_lib.drivers import manager as driver_manager
from naas_lib.reconcile import SyncLoop
from naas_lib.resources import common

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)
_hosts = models.Host.__table__
_ports = models.Port.__table__

#: Keys added to a host's recorded capabilities besides ``Capabilities.to_dict()``.
REFUSALS_KEY = "refusals"
PHYSNETS_KEY = "physical_networks"

DEFAULT_SYNC_INTERVAL = 10.0


# -- what a host records about itself ------------------------------------------


def _probe_network(network_type: str) -> objects.Network:
    """A stand-in network of one type, to ask a driver "could you realize this?"."""
    now = models.utcnow()
    seg = {constants.TYPE_VXLAN: constants.MIN_VNI,
           constants.TYPE_VLAN: constants.MIN_VLAN}.get(network_type)
    return objects.Network(
        id="probe", project_id="", name="", description="", admin_state_up=True,
        status=constants.NET_STATUS_ACTIVE, shared=False, mtu=constants.MIN_MTU_IPV4,
        network_type=network_type, segmentation_id=seg, physical_network=None, subnets=(),
        revision_number=1, created_at=now, updated_at=now)


def host_capabilities(driver: driver_base.Driver) -> dict[str, Any]:
    """What other processes need to decide bindings for this host, as JSON-able data.

    ``describe()`` plus, per network type the driver refuses, its own reason
    (which names the missing option, e.g. the VXLAN endpoint), and the
    physical networks the host is wired to when the driver restricts them.
    Flat networks depend on the physical network, so they are not probed.
    """
    caps = driver.describe().to_dict()
    refusals = {}
    for network_type in constants.NETWORK_TYPES:
        if network_type == constants.TYPE_FLAT:
            continue
        try:
            reason = driver.check_network(_probe_network(network_type))
        except Exception as e:  # a driver that cannot answer refuses
            reason = f"{type(e).__name__}: {e}"
        if reason is not None:
            refusals[network_type] = reason
    caps[REFUSALS_KEY] = refusals
    physnets = driver.physical_networks()
    if physnets is not None:
        caps[PHYSNETS_KEY] = sorted(physnets)
    return caps


def host_obj(row: Any, alive: bool) -> objects.Host:
    return objects.Host(name=row.name, vxlan_endpoint=row.vxlan_endpoint, driver=row.driver,
                        capabilities=json.loads(row.capabilities or "{}"),
                        heartbeat_at=row.heartbeat_at, alive=alive)


# -- binding on behalf of another host -------------------------------------------


def remote_driver(driver_name: str, host: str) -> driver_base.Driver:
    """An instance of ``driver_name``'s class for ``host``, used for ``bind_port`` only.

    Built without ``__init__`` and without configuration, so it opens no
    socket and touches no kernel: the contract makes ``bind_port`` pure.
    """
    cls = driver_manager.load_driver_class(driver_name)
    driver = cls.__new__(cls)
    driver_base.Driver.__init__(driver, None, host)
    return driver


class RecordedHost:
    """Binding decisions for a host from its row in the hosts table."""

    def __init__(self, host: objects.Host) -> None:
        self.host = host
        self.name = host.driver or "unknown"
        caps = dict(host.capabilities)
        self.capabilities = driver_base.Capabilities.from_dict(caps)
        self.refusals: Mapping[str, str] = caps.get(REFUSALS_KEY) or {}
        physnets = caps.get(PHYSNETS_KEY)
        self.physical_networks = None if physnets is None else set(physnets)
        self._driver: driver_base.Driver | None = None

    def check_network(self, network: objects.Network) -> str | None:
        """None when the host can realize ``network``, else why not."""
        where = f"host {self.host.name} (driver {self.name})"
        refused = self.refusals.get(network.network_type)
        if refused:
            return f"{where}: {refused}"
        reason = self.capabilities.why_not(network_type=network.network_type, mtu=network.mtu)
        if reason is not None:
            return f"{where}: {reason}"
        if (network.network_type == constants.TYPE_VXLAN and not self.host.vxlan_endpoint):
            return f"{where}: no VXLAN endpoint address is configured"
        if (network.physical_network is not None and self.physical_networks is not None
                and network.physical_network not in self.physical_networks):
            return (f"{where}: physical network {network.physical_network} is not mapped "
                    f"(mapped: {', '.join(sorted(self.physical_networks)) or 'none'})")
        return None

    def bind_port(self, port: objects.Port, network: objects.Network) -> driver_base.Binding:
        if self._driver is None:
            if not self.host.driver:
                raise exc.BindingFailed(port_id=port.id, host=self.host.name,
                                        reason="the host recorded no driver")
            try:
                self._driver = remote_driver(self.host.driver, self.host.name)
            except exc.DriverNotFound as e:
                raise exc.BindingFailed(port_id=port.id, host=self.host.name,
                                        reason=e.message) from e
        return self._driver.bind_port(port, network)


# -- the mixin ---------------------------------------------------------------------


class HostOps:
    """Host registry, binding for recorded hosts, desired state and the sync loop."""

    _sync_loop: SyncLoop | None = None

    # -- registry ------------------------------------------------------------

    def _host_down_time(self: NetworkService) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.conf[HOSTS_GROUP].host_down_time)

    def _alive_since(self: NetworkService) -> datetime.datetime:
        """Hosts with a heartbeat at or after this instant are alive."""
        return models.utcnow() - self._host_down_time()

    def register_host(self: NetworkService) -> objects.Host | None:
        """Record this host (endpoint, driver, capabilities) and beat once.

        An upsert without row locks: update the row, insert it when missing,
        and when a concurrent start inserted it first (the primary key says
        so) run again, which then updates.
        """
        if not self.host:
            return None
        values = {"vxlan_endpoint": self.driver.endpoint(), "driver": self.driver.name,
                  "capabilities": json.dumps(host_capabilities(self.driver), sort_keys=True)}

        def txn() -> None:
            with self.db.writer() as session:
                now = models.utcnow()
                count = session.execute(sa.update(_hosts).where(_hosts.c.name == self.host)
                                        .values(heartbeat_at=now, **values)).rowcount
                if count:
                    return
                try:
                    session.execute(sa.insert(_hosts), [{"name": self.host,
                                                         "heartbeat_at": now, **values}])
                except db_exc.DBDuplicateEntry as e:
                    raise db_exc.RetryRequest(e) from e

        self.retrying(txn)()
        LOG.info("Host %s registered (driver %s, endpoint %s)", self.host, values["driver"],
                 values["vxlan_endpoint"])
        return self._get_host(self.host)

    def heartbeat(self: NetworkService) -> None:
        """Tell the others this host is alive; re-register if its row was removed."""
        if not self.host:
            return

        def txn() -> int:
            with self.db.writer() as session:
                return session.execute(sa.update(_hosts).where(_hosts.c.name == self.host)
                                       .values(heartbeat_at=models.utcnow())).rowcount

        if not self.retrying(txn)():
            self.register_host()

    def _get_host(self: NetworkService, name: str) -> objects.Host | None:
        with self.db.reader() as session:
            row = session.get(models.Host, name)
            if row is None:
                return None
            return host_obj(row, row.heartbeat_at >= self._alive_since())

    def get_host(self: NetworkService, context: RequestContext, name: str) -> objects.Host:
        """One recorded host (admin only)."""
        self.enforce(context, "context_is_admin", {})
        host = self._get_host(name)
        if host is None:
            raise exc.HostNotFound(host=name)
        return host

    def list_hosts(self: NetworkService, context: RequestContext,
                   alive: bool | None = None) -> list[objects.Host]:
        """Recorded hosts by name (admin only); ``alive`` filters on heartbeat freshness."""
        self.enforce(context, "context_is_admin", {})
        since = self._alive_since()
        with self.db.reader() as session:
            rows = list(session.scalars(sa.select(models.Host).order_by(models.Host.name)))
            hosts = [host_obj(r, r.heartbeat_at >= since) for r in rows]
        return [h for h in hosts if alive is None or h.alive == alive]

    # -- binding -------------------------------------------------------------

    def binding_driver(self: NetworkService, session: orm.Session, host: str):
        """Who decides bindings for ``host``.

        This service's own driver for its own host and for hosts that never
        registered (a deployment without host records binds as before);
        otherwise the host's recorded capabilities and driver class.
        """
        if host == self.host:
            return self.driver
        row = session.get(models.Host, host)
        if row is None:
            return self.driver
        return RecordedHost(host_obj(row, row.heartbeat_at >= self._alive_since()))

    # -- desired state ---------------------------------------------------------

    def desired_state(self: NetworkService) -> driver_base.DesiredState:
        """What the database says this host should have.

        Ports bound here with their networks, and for each VXLAN network among
        them the other live hosts with ports bound on it, with their endpoints.
        """
        if not self.host:
            raise exc.InvalidInput(field="host", reason="desired state needs a service host")
        since = self._alive_since()
        with self.db.reader() as session:
            rows = list(session.scalars(
                sa.select(models.Port).where(models.Port.binding_host_id == self.host)
                .order_by(models.Port.created_at, models.Port.id)))
            ports = common.load_ports(session, rows)
            net_ids = sorted({p.network_id for p in ports})
            nets = {n.id: n for n in common.load_networks(session, list(session.scalars(
                sa.select(models.Network).where(models.Network.id.in_(net_ids)))))}
            vxlan_ids = [i for i, n in nets.items() if n.network_type == constants.TYPE_VXLAN]
            peers: dict[str, list[driver_base.Peer]] = defaultdict(list)
            if vxlan_ids:
                q = (sa.select(models.Port.network_id, models.Host.name,
                               models.Host.vxlan_endpoint)
                     .join(models.Host, models.Host.name == models.Port.binding_host_id)
                     .where(models.Port.network_id.in_(vxlan_ids),
                            models.Host.name != self.host,
                            models.Host.heartbeat_at >= since,
                            models.Host.vxlan_endpoint.is_not(None))
                     .distinct().order_by(models.Port.network_id, models.Host.name))
                for net_id, name, endpoint in session.execute(q):
                    peers[net_id].append(driver_base.Peer(host=name, endpoint=endpoint))
            extra = {}
            if "subnets" in {f.name for f in dataclasses.fields(driver_base.DesiredState)}:
                subnet_rows = list(session.scalars(
                    sa.select(models.Subnet).where(models.Subnet.network_id.in_(net_ids))))
                extra["subnets"] = {s.id: s for s in common.load_subnets(session, subnet_rows)}
        return driver_base.DesiredState(
            host=self.host, ports=[(p, nets[p.network_id]) for p in ports],
            peers={k: list(v) for k, v in peers.items()}, **extra)

    # -- sync ------------------------------------------------------------------

    def sync(self: NetworkService) -> driver_base.SyncReport:
        """One reconciliation round: heartbeat, make the host match the DB, record statuses."""
        self.heartbeat()
        desired = self.desired_state()
        report = self.driver.sync(desired)
        report.status_changes.update(self._record_sync_statuses(desired, report))
        if report.changed:
            LOG.info("Sync of host %s: created %s, fixed %s, removed %s, statuses %s",
                     self.host, report.created, report.fixed, report.removed,
                     report.status_changes)
        return report

    def _status_after_sync(self: NetworkService, port: objects.Port, net: objects.Network,
                           report: driver_base.SyncReport) -> tuple[str, str | None] | None:
        """The status a port should have after a sync, or None to leave it."""
        if port.id in report.failed_ports:
            return constants.PORT_STATUS_ERROR, report.failed_ports[port.id][:255]
        if not (port.admin_state_up and net.admin_state_up):
            return constants.PORT_STATUS_DOWN, None
        if port.id in report.active_ports:
            return constants.PORT_STATUS_ACTIVE, None
        if port.status == constants.PORT_STATUS_BUILD and self.driver.is_plugged(port, net):
            return constants.PORT_STATUS_ACTIVE, None
        return None

    def _record_sync_statuses(self: NetworkService, desired: driver_base.DesiredState,
                              report: driver_base.SyncReport) -> dict[str, str]:
        """Write the statuses that changed; a port changed meanwhile is left to the next round.

        Each write is conditional on the revision read for the desired state,
        so a concurrent update (admin down, unbind) is never overwritten.
        """
        wanted = []
        for port, net in desired.ports:
            new = self._status_after_sync(port, net, report)
            if new is not None and new != (port.status, port.status_reason):
                wanted.append((port, new))
        if not wanted:
            return {}

        def txn() -> dict[str, str]:
            changes = {}
            with self.db.writer() as session:
                for port, (status, reason) in wanted:
                    count = session.execute(
                        sa.update(_ports).where(_ports.c.id == port.id,
                                                _ports.c.revision_number == port.revision_number,
                                                _ports.c.binding_host_id == self.host)
                        .values(status=status, status_reason=reason,
                                revision_number=port.revision_number + 1,
                                updated_at=models.utcnow())).rowcount
                    if count:
                        changes[port.id] = f"{port.status} -> {status}"
            return changes

        return self.retrying(txn)()

    def start_sync(self: NetworkService, interval: float = DEFAULT_SYNC_INTERVAL) -> SyncLoop:
        """Run :meth:`sync` now and then every ``interval`` seconds in a background thread.

        The interval should be well under ``[hosts] host_down_time``, since
        each round is also this host's heartbeat. Calling it again while the
        loop runs returns the running loop.
        """
        if not self.host:
            raise exc.InvalidInput(field="host", reason="the sync loop needs a service host")
        if interval >= self._host_down_time().total_seconds():
            LOG.warning("Sync interval %.1fs is not below host_down_time %ss: other hosts "
                        "will treat %s as gone between rounds", interval,
                        self.conf[HOSTS_GROUP].host_down_time, self.host)
        loop = self._sync_loop
        if loop is not None and loop.running:
            return loop
        loop = self._sync_loop = SyncLoop(self.sync, interval, name=f"naas-sync-{self.host}")
        loop.start()
        return loop

    def stop_sync(self: NetworkService, timeout: float | None = 30.0) -> None:
        """Stop the background loop after its current round and wait for its thread."""
        loop = self._sync_loop
        if loop is None:
            return
        if not loop.stop(timeout):
            LOG.warning("Sync loop of %s did not end within %ss", self.host, timeout)
            return
        self._sync_loop = None

    # -- host-side follow-up of port updates ------------------------------------

    def after_port_update(self: NetworkService, context: RequestContext, before: objects.Port,
                          port: objects.Port, network: objects.Network) -> objects.Port:
        """Apply an update to this host's devices at once (without waiting for sync).

        A port newly bound here is plugged, one bound away is unplugged, and a
        change of ``admin_state_up`` or of the binding profile re-plugs it, so
        the driver takes the device down (or up) and the status follows.
        """
        if not self.host:
            return port
        was_here = before.binding_host_id == self.host
        is_here = port.binding_host_id == self.host
        if was_here and not is_here:
            self._unplug_quietly(before, network)
            return port
        if not is_here:
            return port
        if was_here and before.admin_state_up == port.admin_state_up \
                and before.binding_profile == port.binding_profile:
            return port
        try:
            self.plug_port(port.id)
        except exc.NaasError as e:
            LOG.warning("Re-plugging port %s after its update failed: %s", port.id, e)
        with self.db.reader() as session:
            row = session.get(models.Port, port.id)
            return common.load_ports(session, [row])[0] if row is not None else port
