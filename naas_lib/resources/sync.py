"""Reconciliation: what this host should have, making it so, and the loop that repeats it.

:meth:`Sync.desired_state` reads from the database what this host should
have; :meth:`Sync.sync` lets the driver make the host match it (removing
only devices the driver owns) and records the port statuses that follow;
:meth:`Sync.start_sync` runs that in a :class:`SyncLoop` thread. An error in
one round is logged and the next round runs as planned, so a transient
database or netlink failure never ends reconciliation. Plain ``threading``:
the library must work in a Nova compute process without monkey patching.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from naas_lib import constants, objects
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.drivers import base as driver_base
from naas_lib.resources import common, dhcp, port_security
from naas_lib.resources.core import Core
from naas_lib.resources.hosts import Hosts
from naas_lib.resources.plugging import Plugging, as_bound_here

LOG = logging.getLogger(__name__)
_ports = models.Port.__table__

DEFAULT_SYNC_INTERVAL = 10.0


#: Port ids per lookup of their bindings (well under every backend's limit of parameters).
_PORTS_PER_LOOKUP = 500


def _peers(session: Any, network_ids: list[str], host: str,
           since: Any) -> dict[str, list[driver_base.Peer]]:
    """The other live hosts with ports bound on each of ``network_ids``, with endpoints.

    Lookups each driven by an index whatever the planner's statistics say:
    the networks' ports (by network), their bindings elsewhere (by port id),
    then those hosts' records (by name). As one join, PostgreSQL may start
    from the hosts it believes alive and read every binding of every host, or
    hash the whole bindings table against the networks' ports (16 ms of a 34 ms
    round on 100,000 ports, ``benchmarks/bench_scale.py``).
    """
    if not network_ids:
        return {}
    network_of = dict(session.execute(
        sa.select(models.Port.id, models.Port.network_id)
        .where(models.Port.network_id.in_(network_ids))).all())
    ids = sorted(network_of)
    bound: set[tuple[str, str]] = set()
    for start in range(0, len(ids), _PORTS_PER_LOOKUP):
        bound.update((network_of[port_id], name) for port_id, name in session.execute(
            sa.select(models.PortBinding.port_id, models.PortBinding.host)
            .where(models.PortBinding.port_id.in_(ids[start:start + _PORTS_PER_LOOKUP]),
                   models.PortBinding.host.not_in(["", host]))))
    if not bound:
        return {}
    live = dict(session.execute(
        sa.select(models.Host.name, models.Host.vxlan_endpoint)
        .where(models.Host.name.in_(sorted({h for _, h in bound})),
               models.Host.heartbeat_at >= since,
               models.Host.vxlan_endpoint.is_not(None))).all())
    peers: dict[str, list[driver_base.Peer]] = defaultdict(list)
    for net_id, name in sorted(bound):
        if name in live:
            peers[net_id].append(driver_base.Peer(host=name, endpoint=live[name]))
    return peers


class SyncLoop:
    """Run ``round_fn`` now and then every ``interval`` seconds, in one thread."""

    def __init__(self, round_fn: Callable[[], Any], interval: float,
                 name: str = "naas-sync") -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval!r}")
        self._round_fn = round_fn
        self.interval = float(interval)
        self.name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        #: Completed rounds, failed ones included.
        self.rounds = 0
        #: Rounds that raised.
        self.failures = 0
        self.last_result: Any = None
        self.last_error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; a second start while running is a no-op."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Ask the loop to end after its current round and wait for it.

        Returns True when the thread has ended (always, unless a round is
        stuck longer than ``timeout``).
        """
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        if thread is not threading.current_thread():
            thread.join(timeout)
        ended = not thread.is_alive()
        if ended:
            self._thread = None
        return ended

    def wake(self) -> None:
        """Run the next round now instead of at the end of the interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.last_result = self._round_fn()
                self.last_error = None
            except Exception as e:  # one bad round must not end reconciliation
                self.failures += 1
                self.last_error = e
                LOG.exception("Reconciliation round of %s failed; retrying in %.1fs",
                              self.name, self.interval)
            self.rounds += 1
            elapsed = time.monotonic() - started
            self._wake.wait(max(0.0, self.interval - elapsed))
            self._wake.clear()


class Sync:
    """This host's reconciliation rounds, on demand or in a background loop."""

    _sync_loop: SyncLoop | None = None

    def __init__(self, core: Core, hosts: Hosts, plugging: Plugging) -> None:
        self.core = core
        self.hosts = hosts
        self.plugging = plugging
        #: Ports marked BUILD by the link watch, awaiting their repair round.
        self._repairing: set[str] = set()
        self._repairing_lock = threading.Lock()

    # -- desired state ---------------------------------------------------------

    def desired_state(self) -> driver_base.DesiredState:
        """What the database says this host should have.

        Ports bound here with their networks, and for each VXLAN network among
        them the other live hosts with ports bound on it, with their endpoints.
        """
        if not self.core.host:
            raise exc.InvalidInput(field="host", reason="desired state needs a service host")
        since = self.hosts.alive_since()
        with self.core.db.reader() as session:
            here = {b.port_id: b for b in session.scalars(sa.select(models.PortBinding).where(
                models.PortBinding.host == self.core.host))}
            rows = list(session.scalars(
                sa.select(models.Port).where(models.Port.id.in_(list(here)))
                .order_by(models.Port.created_at, models.Port.id))) if here else []
            # A port with an INACTIVE binding here (moving in) is served with that binding.
            ports = [p if p.binding_host_id == self.core.host
                     else as_bound_here(p, here[p.id])
                     for p in common.load_ports(session, rows)]
            net_ids = sorted({p.network_id for p in ports})
            nets = {n.id: n for n in common.load_networks(session, list(session.scalars(
                sa.select(models.Network).where(models.Network.id.in_(net_ids)))))}
            vxlan_ids = [i for i, n in nets.items() if n.network_type == constants.TYPE_VXLAN]
            peers = _peers(session, vxlan_ids, self.core.host, since)
            subnet_rows = list(session.scalars(
                sa.select(models.Subnet).where(models.Subnet.network_id.in_(net_ids))))
            subnets = {s.id: s for s in common.load_subnets(session, subnet_rows)}
            dhcp_addresses = dhcp.server_addresses(session, net_ids)
            groups = port_security.group_states(session, port_security.groups_of(ports))
        return driver_base.DesiredState(
            host=self.core.host, ports=[(p, nets[p.network_id]) for p in ports],
            peers={k: list(v) for k, v in peers.items()}, subnets=subnets,
            dhcp_addresses=dhcp_addresses, security_groups=groups)

    # -- sync ------------------------------------------------------------------

    def sync(self) -> driver_base.SyncReport:
        """One reconciliation round: heartbeat, make the host match the DB, record statuses."""
        self.hosts.heartbeat()
        with self._repairing_lock:  # this round repairs them; a later loss is news again
            self._repairing.clear()
        desired = self.desired_state()
        report = self.core.driver.sync(desired)
        self.plugging.forget_network_states()  # the round told the driver everything afresh
        desired, repairs = self._record_repairs(desired, report)
        changes = self._record_sync_statuses(desired, report)
        report.status_changes.update(repairs)
        for port_id, change in changes.items():
            report.status_changes[port_id] = (f"{repairs[port_id]} -> {change.split()[-1]}"
                                              if port_id in repairs else change)
        if report.changed:
            LOG.info("Sync of host %s: created %s, fixed %s, removed %s, statuses %s",
                     self.core.host, report.created, report.fixed, report.removed,
                     report.status_changes)
        return report

    def _status_after_sync(self, port: objects.Port, net: objects.Network,
                           report: driver_base.SyncReport) -> tuple[str, str | None] | None:
        """The status a port should have after a sync, or None to leave it."""
        if port.id in report.failed_ports:
            return constants.PORT_STATUS_ERROR, report.failed_ports[port.id][:255]
        if not (port.admin_state_up and net.admin_state_up):
            return constants.PORT_STATUS_DOWN, None
        if port.id in report.active_ports:
            return constants.PORT_STATUS_ACTIVE, None
        if port.status == constants.PORT_STATUS_BUILD and self.core.driver.is_plugged(port, net):
            return constants.PORT_STATUS_ACTIVE, None
        return None

    def _record_sync_statuses(self, desired: driver_base.DesiredState,
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
        return self._write_statuses(wanted)

    def _record_repairs(self, desired: driver_base.DesiredState,
                        report: driver_base.SyncReport
                        ) -> tuple[driver_base.DesiredState, dict[str, str]]:
        """ACTIVE ports whose device the round found missing or off its bridge read BUILD.

        Nova's own unplug on the ``tap`` path deletes the device, and its plug
        makes a bare tap on no bridge: the port was not wired, so it reads
        BUILD (announced) before the repaired device earns ACTIVE again (also
        announced), as at its first plug. Returns the desired state with those
        ports as now recorded, and the changes.
        """
        repaired = set(report.repaired_ports)
        build = constants.PORT_STATUS_BUILD
        changes = self._write_statuses([
            (port, (build, None)) for port, _net in desired.ports
            if port.id in repaired and port.status == constants.PORT_STATUS_ACTIVE])
        if not changes:
            return desired, {}
        ports = [(port.replace(status=build, status_reason=None,
                               revision_number=port.revision_number + 1)
                  if port.id in changes else port, net) for port, net in desired.ports]
        return dataclasses.replace(desired, ports=ports), changes

    def _write_statuses(self, wanted: list[tuple[objects.Port, tuple[str, str | None]]]
                        ) -> dict[str, str]:
        """Write and announce ``(port, (status, reason))`` changes; the ones written."""
        if not wanted:
            return {}

        # Only the port's ACTIVE host records its status.
        active_here = sa.select(models.PortBinding.port_id).where(
            models.PortBinding.host == self.core.host, models.PortBinding.active.is_(True))

        def txn() -> dict[str, str]:
            changes = {}
            with self.core.db.writer() as session:
                for port, (status, reason) in wanted:
                    count = session.execute(
                        sa.update(_ports).where(_ports.c.id == port.id,
                                                _ports.c.revision_number == port.revision_number,
                                                _ports.c.id.in_(active_here))
                        .values(status=status, status_reason=reason,
                                revision_number=port.revision_number + 1,
                                updated_at=models.utcnow())).rowcount
                    if count:
                        changes[port.id] = f"{port.status} -> {status}"
            return changes

        changes = self.core.retrying(txn)()
        for port, (status, reason) in wanted:
            if port.id in changes:
                self.plugging.announce_status(port, port.replace(
                    status=status, status_reason=reason,
                    revision_number=port.revision_number + 1))
        return changes

    def start_sync(self, interval: float = DEFAULT_SYNC_INTERVAL) -> SyncLoop:
        """Run :meth:`sync` now and then every ``interval`` seconds in a background thread.

        The interval should be well under ``[hosts] host_down_time``, since
        each round is also this host's heartbeat. Calling it again while the
        loop runs returns the running loop.
        """
        if not self.core.host:
            raise exc.InvalidInput(field="host", reason="the sync loop needs a service host")
        if interval >= self.hosts.host_down_time().total_seconds():
            LOG.warning("Sync interval %.1fs is not below host_down_time %ss: other hosts "
                        "will treat %s as gone between rounds", interval,
                        self.core.host_down_time, self.core.host)
        loop = self._sync_loop
        if loop is not None and loop.running:
            return loop
        loop = self._sync_loop = SyncLoop(self.sync, interval, name=f"naas-sync-{self.core.host}")
        loop.start()
        watch = getattr(self.core.driver, "watch", None)  # drivers with a link watch
        if watch is not None:
            watch(self._device_lost)
        return loop

    def stop_sync(self, timeout: float | None = 30.0) -> None:
        """Stop the background loop after its current round and wait for its thread."""
        stop_watching = getattr(self.core.driver, "stop_watching", None)
        if stop_watching is not None:
            stop_watching()
        loop = self._sync_loop
        if loop is None:
            return
        if not loop.stop(timeout):
            LOG.warning("Sync loop of %s did not end within %ss", self.core.host, timeout)
            return
        self._sync_loop = None

    # -- link watch ------------------------------------------------------------

    def _device_lost(self, id_prefix: str | None) -> None:
        """The driver saw a port device vanish or leave its bridge (watch thread).

        The ACTIVE port bound here whose id starts with ``id_prefix`` reads
        BUILD at once (announced) and the sync loop is woken to repair it;
        the repair round makes it ACTIVE again. One repair per port at a
        time; None (events dropped) only wakes the loop.
        """
        loop = self._sync_loop
        if id_prefix is not None:
            with self._repairing_lock:
                if id_prefix in self._repairing:
                    return
            if not self._mark_build(id_prefix):
                return
        if loop is not None:
            loop.wake()

    def _mark_build(self, id_prefix: str) -> bool:
        """BUILD for the ACTIVE ports bound here whose device is really gone; any marked."""
        with self.core.db.reader() as session:
            rows = list(session.scalars(
                sa.select(models.Port)
                .join(models.PortBinding, models.PortBinding.port_id == models.Port.id)
                .where(models.PortBinding.host == self.core.host,
                       models.PortBinding.active.is_(True),
                       models.Port.id.startswith(id_prefix, autoescape=True),
                       models.Port.status == constants.PORT_STATUS_ACTIVE)))
            ports = common.load_ports(session, rows) if rows else []
            nets = {n.id: n for n in common.load_networks(session, list(session.scalars(
                sa.select(models.Network).where(models.Network.id.in_(
                    sorted({p.network_id for p in ports}))))))} if ports else {}
        lost = [(port, (constants.PORT_STATUS_BUILD, None)) for port in ports
                if not self.core.driver.is_plugged(port, nets[port.network_id])]
        changes = self._write_statuses(lost)
        if changes:
            with self._repairing_lock:
                self._repairing.add(id_prefix)
            LOG.info("Host %s lost the device of port %s: BUILD until repaired",
                     self.core.host, ", ".join(changes))
        return bool(changes)
