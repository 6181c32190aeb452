"""This host's devices: plugging, unplugging and the port statuses they produce.

Every host-side effect of an operation goes through here, so resources ask
for "plug this port" or "unplug these" and never call the driver's device
methods themselves. A service without a host plugs nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, events, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import get_admin_context
from naas_lib.db import batch, models
from naas_lib.drivers import base as driver_base
from naas_lib.resources import common, dhcp
from naas_lib.resources.core import Core

LOG = logging.getLogger(__name__)
#: How long a network's state told to the driver may be reused and changed by
#: this process's own plugs and unplugs instead of read again (seconds). Changes
#: made by other processes reach the driver by the next full read or sync round.
STATE_REUSE_SECONDS = 30.0
_ports = models.Port.__table__
_subnets = models.Subnet.__table__
#: Id and revision of the subnets of networks ``ids`` (what tells a cached subnet is current).
_SUBNETS_BY_ID = sa.select(_subnets).where(
    _subnets.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(_subnets.c.id)
#: Subnets kept by :meth:`Plugging.network_info_sources_in` (by id, with their revision).
SUBNET_CACHE_SIZE = 4096
_HOST_CAPABILITIES = sa.select(models.Host.__table__.c.name,
                               models.Host.__table__.c.capabilities).where(
    models.Host.__table__.c.name.in_(sa.bindparam("names", expanding=True)))
_SET_STATUS = sa.update(_ports).where(_ports.c.id == sa.bindparam("i")).values(
    status=sa.bindparam("s"), status_reason=sa.bindparam("r"),
    revision_number=_ports.c.revision_number + 1, updated_at=sa.bindparam("u"))


class SubnetsOnDemand(Sequence[objects.Subnet]):
    """The complete subnets of a port, read the first time a driver looks at them.

    Most plugs (a tap for Nova) never do, so the common path reads nothing;
    a driver that configures guest addresses or serves DHCP gets them whole.
    """

    def __init__(self, core: Core, subnet_ids: set[str]) -> None:
        self._core = core
        self._ids = subnet_ids
        self._items: list[objects.Subnet] | None = None

    def _load(self) -> list[objects.Subnet]:
        if self._items is None:
            self._items = []
            if self._ids:
                with self._core.db.reader() as session:
                    self._items = common.load_subnets(session, list(session.scalars(
                        sa.select(models.Subnet).where(models.Subnet.id.in_(self._ids))
                        .order_by(models.Subnet.created_at, models.Subnet.id))))
        return self._items

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - Sequence protocol
        return self._load()[index]

    def __len__(self) -> int:
        return len(self._load())


def _write_statuses(conn: sa.Connection, rows: list[dict]) -> None:
    """Write ports' statuses; PortNotFound (the caller's transaction undone) for a missing one."""
    if batch.update_each(conn, _SET_STATUS, rows):
        return
    found = set(conn.execute(sa.select(_ports.c.id).where(
        _ports.c.id.in_([r["i"] for r in rows]))).scalars())
    raise exc.PortNotFound(port_id=next(r["i"] for r in rows if r["i"] not in found))


def as_bound_here(port: objects.Port, binding: models.PortBinding) -> objects.Port:
    """The port as ``binding``'s host sees it: that host's VIF type, details and profile."""
    return port.replace(binding_host_id=binding.host, binding_vif_type=binding.vif_type,
                        binding_vif_details=json.loads(binding.vif_details),
                        binding_profile=json.loads(binding.profile))


class BeforePlug(Protocol):
    """Work done right before the driver plugs ports (port security: their groups)."""

    def read_ahead(self, session: orm.Session, ports: Sequence[objects.Port]) -> Any:
        """What :meth:`before_plug_many` would read for ``ports``, read in ``session``."""

    def before_plug_many(self, ports: Sequence[objects.Port], ahead: Any = None) -> None:
        """Prepare the driver for ``ports``; ``ahead`` from :meth:`read_ahead`, or None."""


@dataclasses.dataclass(frozen=True)
class ReadAhead:
    """What the before-plug hooks read in a write transaction, one value per hook."""

    values: tuple[Any, ...]


class Plugging:
    """Plug and unplug this host's ports and record what became of them."""

    def __init__(self, core: Core) -> None:
        self.core = core
        #: Run with ports right before the driver plugs them (port security: their
        #: groups): once per batch of :meth:`plug_ports`, with one port otherwise.
        self.before_plug: list[BeforePlug] = []
        #: Subnet objects by id, reused for network info while their revision is
        #: the database's (every change of a subnet, its pools, DNS servers or
        #: routes moves it).
        self._subnets: dict[str, objects.Subnet] = {}
        #: Per network, the state last told to ``driver.refresh_network`` and when it was
        #: read; the lock orders refreshes so that no change overtakes another.
        self._told: dict[str, tuple[float, driver_base.DesiredState]] = {}
        self._told_lock = threading.Lock()
        self._background = threading.local()  # .pending: this thread's unplugs in flight

    def set_port_status(self, port_id: str, status: str, reason: str | None = None) -> None:
        """Record what the host made of a port (internal: not a caller's write).

        PortNotFound for a port that does not exist. Subscribers of the port's
        AFTER update (the ``port.update.end`` notification among them) hear of
        a status that changed.
        """
        validation.lookup("port_id", port_id)
        if status not in constants.PORT_STATUSES:
            raise exc.RequestedStateInvalid(resource="port", reason=f"{status!r} is not a status")
        listened = self.core.events.has_subscribers(events.PORT, events.AFTER_UPDATE)

        def txn() -> tuple[objects.Port | None, objects.Port | None]:
            with self.core.db.writer() as session:
                before = None
                if listened:
                    row = session.get(models.Port, port_id)
                    before = common.load_ports(session, [row])[0] if row is not None else None
                count = session.execute(sa.update(_ports).where(_ports.c.id == port_id).values(
                    status=status, status_reason=reason,
                    revision_number=_ports.c.revision_number + 1,
                    updated_at=models.utcnow())).rowcount
                if not count:
                    raise exc.PortNotFound(port_id=port_id)
                after = None
                if before is not None:
                    after = before.replace(status=status, status_reason=reason,
                                           revision_number=before.revision_number + 1)
                return before, after

        before, after = self.core.retrying(txn)()
        if before is not None and (before.status, before.status_reason) != (status, reason):
            self.announce_status(before, after)

    def announce_status(self, before: objects.Port, after: objects.Port) -> None:
        """Tell AFTER-update subscribers that the host changed a port's status."""
        self.core.publish(events.PORT, events.AFTER_UPDATE, events.EventPayload(
            get_admin_context(), after.id, states=(before, after),
            request={"status": after.status}, metadata={"cause": "host"}))

    def subnets_of(self, port: objects.Port) -> SubnetsOnDemand:
        """The subnets of the port's fixed IPs, as the driver's ``plug`` receives them."""
        return SubnetsOnDemand(self.core, {f.subnet_id for f in port.fixed_ips})

    def plug_port(self, port_id: str) -> objects.Port:
        """Make the port's devices on this host and record the outcome.

        ACTIVE when wired (DOWN when the port or its network is
        administratively down); ERROR with the driver's reason, and the typed
        DriverError raised, when plugging failed.
        """
        validation.lookup("port_id", port_id)
        with self.core.db.reader() as session:
            row = session.get(models.Port, port_id)
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            port = common.load_ports(session, [row])[0]
            net = common.network_by_id(session, row.network_id)
            subnets = self.subnets_of(port)
            inactive = None
            if self.core.host and port.binding_host_id != self.core.host:
                inactive = session.get(models.PortBinding, (port_id, self.core.host))
        if inactive is not None:
            # An INACTIVE binding here (a port moving in): plug with this host's
            # binding; the port's status belongs to its ACTIVE host.
            return self.plug_loaded(as_bound_here(port, inactive), net, subnets,
                                    record_status=False)
        return self.plug_loaded(port, net, subnets)

    def plug_loaded(self, port: objects.Port, net: objects.Network,
                    subnets: Sequence[objects.Subnet], record_status: bool = True,
                    ahead: ReadAhead | None = None) -> objects.Port:
        """Plug a port whose data the caller already holds; the port with its new status.

        ``record_status`` False plugs for an INACTIVE binding: the port's
        status (its ACTIVE host's) is left as it is. ``ahead`` is what
        :meth:`read_ahead` read for this port in the caller's write transaction.
        """
        host = self.core.host
        if port.binding_host_id != host or not host:
            raise exc.BindingFailed(port_id=port.id, host=host,
                                    reason=f"port is bound to {port.binding_host_id!r}")
        driver = self.core.driver
        try:
            self._run_before_plug([port], ahead)
            driver.plug(port, net, subnets)
        except Exception as e:
            reason = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            if record_status:
                self.set_port_status(port.id, constants.PORT_STATUS_ERROR, reason[:255])
            if isinstance(e, exc.DriverError):
                raise
            raise exc.DriverError(driver=driver.name, reason=reason) from e
        if not record_status:
            return port
        up = port.admin_state_up and net.admin_state_up
        status = constants.PORT_STATUS_ACTIVE if up else constants.PORT_STATUS_DOWN
        self.set_port_status(port.id, status)
        port = port.replace(status=status, status_reason=None)
        self.refresh_networks_changed(added=[(port, net)])
        return port

    def plug_ports(self, items: Sequence[tuple[objects.Port, objects.Network]],
                   ahead: ReadAhead | None = None) -> list[objects.Port]:
        """Plug ports whose data the caller holds (a boot's NICs); their statuses in ONE write.

        Nothing is read: the ports go to the driver in one ``plug_many`` call
        (their subnets read only if the driver looks at them; port security
        programmed in one change); then the statuses of all of them are
        recorded in one transaction and each network is refreshed once. A
        port the driver could not plug is ERROR with the driver's reason, the
        others read as the driver left them, and the first failure in NIC
        order is raised as a typed error (DriverError, BindingFailed) with
        that port's id in its ``kwargs["port_id"]``. A port bound elsewhere,
        or refused by a before-plug hook, stops the batch there. ``ahead`` is
        what :meth:`read_ahead` read for these ports in the caller's write
        transaction (the before-plug hooks then read nothing).
        Returns the ports with their new statuses.
        """
        host, driver = self.core.host, self.core.driver
        done: list[tuple[objects.Port, str, str | None]] = []
        failure: Exception | None = None
        failed_reason = ""
        batch = []
        stopped: tuple[objects.Port, Exception] | None = None  # a port that never got plugged
        here = []
        for port, net in items:
            if port.binding_host_id != host or not host:
                stopped = (port, exc.BindingFailed(
                    port_id=port.id, host=host,
                    reason=f"port is bound to {port.binding_host_id!r}"))
                break
            here.append((port, net))
        refused = self._before_plug([port for port, _net in here], ahead)
        for port, net in here:
            if refused is not None and refused[0] is port:
                stopped = refused
                break
            batch.append((port, net, self.subnets_of(port)))
        # One driver call for them all (port security: one nft transaction).
        failed = driver.plug_many(batch) if batch else {}
        for port, net, _subnets in batch:
            if port.id in failed:
                e = failed[port.id]
                reason = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
                done.append((port, constants.PORT_STATUS_ERROR, reason[:255]))
                continue
            up = port.admin_state_up and net.admin_state_up
            done.append((port, constants.PORT_STATUS_ACTIVE if up
                         else constants.PORT_STATUS_DOWN, None))
        first = next(((p, failed[p.id]) for p, _n, _s in batch if p.id in failed), stopped)
        if first is not None:
            port, failure = first
            failed_reason = getattr(failure, "message", None) or \
                f"{type(failure).__name__}: {failure}"
            if not isinstance(failure, exc.BindingFailed) and port.id not in failed:
                done.append((port, constants.PORT_STATUS_ERROR, failed_reason[:255]))
        self.set_port_statuses([(p.id, status, reason) for p, status, reason in done])
        if isinstance(failure, (exc.DriverError, exc.BindingFailed)):
            failure.kwargs.setdefault("port_id", port.id)
            raise failure
        if failure is not None:
            raise exc.DriverError(driver=driver.name, reason=failed_reason,
                                  port_id=port.id) from failure
        plugged = [p.replace(status=status, status_reason=reason) for p, status, reason in done]
        self.refresh_networks_changed(
            added=[(p, net) for p, (_old, net) in zip(plugged, items, strict=True)])
        return plugged

    def read_ahead(self, session: orm.Session, ports: Sequence[objects.Port]) -> ReadAhead:
        """What the before-plug hooks need for ``ports``, read in the caller's transaction.

        The write transaction that binds ports to this host reads it, so the
        plug that follows its commit opens no read transaction of its own; it
        is as fresh as a read made after the commit would be (another
        process's change committed later reaches the driver by the usual
        paths: that process's own host-side call, or the next sync round).
        """
        return ReadAhead(tuple(hook.read_ahead(session, ports) for hook in self.before_plug))

    def _run_before_plug(self, ports: Sequence[objects.Port], ahead: ReadAhead | None) -> None:
        for i, hook in enumerate(self.before_plug):
            hook.before_plug_many(ports, ahead.values[i] if ahead is not None else None)

    def _before_plug(self, ports: Sequence[objects.Port], ahead: ReadAhead | None = None
                     ) -> tuple[objects.Port, Exception] | None:
        """Run the before-plug hooks once for ``ports``; the first port refused, if any.

        When a hook fails for the batch, the ports are tried one by one (in
        order) to name the one it refuses; the ports before it are ready.
        """
        if not ports or not self.before_plug:
            return None
        try:
            self._run_before_plug(ports, ahead)
            return None
        except Exception as e:
            if len(ports) == 1:
                return ports[0], e
        for port in ports:
            try:
                self._run_before_plug([port], None)
            except Exception as e:
                return port, e
        return None

    def set_port_statuses(self, statuses: Sequence[tuple[str, str, str | None]]) -> None:
        """Record what the host made of several ports in one transaction.

        ``statuses`` are (port id, status, reason); AFTER-update subscribers
        hear of each status that changed, as from :meth:`set_port_status`.
        PortNotFound, and nothing recorded, when one of the ports is gone.
        """
        if not statuses:
            return
        listened = self.core.events.has_subscribers(events.PORT, events.AFTER_UPDATE)

        def txn() -> list[tuple[objects.Port, objects.Port]]:
            changed = []
            now = models.utcnow()
            rows = [{"i": port_id, "s": status, "r": reason, "u": now}
                    for port_id, status, reason in statuses]
            if not listened:  # the hot path (a boot's NICs): no session, Core only
                with self.core.db.core_writer() as conn:
                    _write_statuses(conn, rows)
                return changed
            with self.core.db.writer() as session:
                ports = session.scalars(sa.select(models.Port).where(
                    models.Port.id.in_([i for i, _s, _r in statuses]))).all()
                befores = {p.id: p for p in common.load_ports(session, ports)}
                _write_statuses(session.connection(), rows)
                for port_id, status, reason in statuses:
                    before = befores.get(port_id)
                    if before is not None and (before.status, before.status_reason) != (
                            status, reason):
                        changed.append((before, before.replace(
                            status=status, status_reason=reason,
                            revision_number=before.revision_number + 1)))
            return changed

        for before, after in self.core.retrying(txn)():
            self.announce_status(before, after)

    def network_info_sources(self, network_ids: Sequence[str], hosts: Sequence[str]
                             ) -> tuple[dict[str, list[objects.Subnet]], dict[str, str],
                                        dict[str, dict]]:
        """What a boot's network info needs besides its ports, in ONE read transaction.

        The networks' subnets (by network id, ordered by id as ``list_subnets``
        returns them), their DHCP responders' reserved addresses (subnet id ->
        address) and the capabilities ``hosts`` recorded (absent for a host
        that never registered). Internal, like ``plug_ports``: no policy check
        (the provisioner runs elevated).
        """
        with self.core.db.reader() as session:
            return self.network_info_sources_in(session, network_ids, hosts)

    def network_info_sources_in(self, session: orm.Session, network_ids: Sequence[str],
                                hosts: Sequence[str]
                                ) -> tuple[dict[str, list[objects.Subnet]], dict[str, str],
                                           dict[str, dict]]:
        """:meth:`network_info_sources` read in the caller's transaction.

        This service's own host's capabilities are those it registered (no read).
        """
        ids = list(dict.fromkeys(network_ids))
        subnets: dict[str, list[objects.Subnet]] = {}
        conn = session.connection()  # plain rows: this runs on every boot
        current, reserved = dhcp.subnet_revisions_and_servers(session, ids)
        cache = self._subnets
        found = {sid: cache.get(sid) for sid, _revision in current}
        stale = [sid for sid, revision in current
                 if getattr(found[sid], "revision_number", None) != revision]
        if stale:
            if len(cache) + len(stale) > SUBNET_CACHE_SIZE:
                cache.clear()
            for sub in common.load_subnets(session, conn.execute(_SUBNETS_BY_ID,
                                                                 {"ids": stale}).all()):
                cache[sub.id] = found[sub.id] = sub
        for sid, _revision in current:
            sub = found[sid]
            subnets.setdefault(sub.network_id, []).append(sub)
        own = self.core.registered_capabilities
        if own is not None and list(hosts) == [self.core.host]:
            caps = {self.core.host: json.loads(json.dumps(own))}
        else:
            caps = {name: json.loads(raw or "{}") for name, raw in conn.execute(
                _HOST_CAPABILITIES, {"names": list(hosts)})} if hosts else {}
        return subnets, reserved, caps

    def _refreshes(self) -> bool:
        """Whether the driver has host-side services that follow network changes."""
        return bool(self.core.host) and (type(self.core.driver).refresh_network
                                         is not driver_base.Driver.refresh_network)

    def network_state(self, network_id: str) -> driver_base.DesiredState:
        """The desired state of one network on this host: its local ports, all its subnets
        and the responders' reserved addresses."""
        with self.core.db.reader() as session:
            net_row = session.get(models.Network, network_id)
            # Every port with a binding here, ACTIVE or INACTIVE (moving in), as sync has it.
            here = {b.port_id: b for b in session.scalars(
                sa.select(models.PortBinding)
                .join(models.Port, models.Port.id == models.PortBinding.port_id)
                .where(models.PortBinding.host == self.core.host,
                       models.Port.network_id == network_id))} if net_row is not None else {}
            rows = list(session.scalars(
                sa.select(models.Port).where(models.Port.id.in_(list(here)))
                .order_by(models.Port.created_at, models.Port.id))) if here else []
            if not rows:
                return driver_base.DesiredState(host=self.core.host or "", ports=[], peers={})
            net = common.load_networks(session, [net_row])[0]
            subnets = common.load_subnets(session, list(session.scalars(
                sa.select(models.Subnet).where(models.Subnet.network_id == network_id))))
            ports = [p if p.binding_host_id == self.core.host else as_bound_here(p, here[p.id])
                     for p in common.load_ports(session, rows)]
            return driver_base.DesiredState(
                host=self.core.host or "", ports=[(p, net) for p in ports], peers={},
                subnets={s.id: s for s in subnets},
                dhcp_addresses=dhcp.server_addresses(session, [network_id]))

    def refresh_network(self, network_id: str) -> None:
        """Tell the driver at once about a change of a network's subnets or local ports.

        The state is read afresh. A failure is logged and left to ``sync``
        (the next round repairs it).
        """
        if not self._refreshes():
            return
        with self._told_lock:
            self._tell(network_id, lambda: (time.monotonic(), self.network_state(network_id)))

    def refresh_networks_changed(
            self, added: Sequence[tuple[objects.Port, objects.Network]] = (),
            removed: Sequence[tuple[objects.Port, objects.Network]] = (),
            tell: Iterable[str] | None = None) -> None:
        """Tell the driver that this process plugged ``added`` and unplugged ``removed``.

        The state last told for each network is changed by these ports and
        reused (a boot's plug need not read every port of its networks again)
        while younger than :data:`STATE_REUSE_SECONDS`; otherwise it is read
        afresh. ``tell`` limits the networks the driver hears of (it brought
        the others up to date itself); the state remembered follows for all.
        A failure is logged and left to ``sync``.
        """
        if not self._refreshes():
            return
        changed: dict[str, tuple[list, set[str]]] = {}
        for port, net in added:
            changed.setdefault(net.id, ([], set()))[0].append((port, net))
        for port, net in removed:
            changed.setdefault(net.id, ([], set()))[1].add(port.id)
        told_to = None if tell is None else set(tell)
        with self._told_lock:
            for network_id, (plus, minus) in changed.items():
                if told_to is not None and network_id not in told_to:
                    told = self._told.get(network_id)
                    if told is not None and not plus:
                        self._told[network_id] = (told[0], dataclasses.replace(told[1], ports=[
                            (p, n) for p, n in told[1].ports if p.id not in minus]))
                    else:
                        self._told.pop(network_id, None)
                    continue
                self._tell(network_id, lambda n=network_id, a=plus, r=minus:
                           self._changed_state(n, a, r))

    def forget_network_states(self) -> None:
        """Read every network afresh at its next refresh (a sync round read them all)."""
        with self._told_lock:
            self._told.clear()

    def _changed_state(self, network_id: str, added: list[tuple[objects.Port, objects.Network]],
                       removed: Iterable[str]) -> tuple[float, driver_base.DesiredState]:
        """The state last told, changed by these ports, and when it was read."""
        now = time.monotonic()
        told = self._told.get(network_id)
        if told is None or now - told[0] > STATE_REUSE_SECONDS or (
                added and not told[1].ports):  # an empty state holds no subnets
            return now, self.network_state(network_id)
        read_at, state = told
        gone = set(removed) | {p.id for p, _n in added}
        ports = [(p, n) for p, n in state.ports if p.id not in gone] + added
        return read_at, dataclasses.replace(state, ports=ports)

    def _tell(self, network_id: str,
              state: Callable[[], tuple[float, driver_base.DesiredState]]) -> None:
        """Hand the driver a network's state (lock held) and remember what it was told."""
        try:
            read_at, desired = state()
            self.core.driver.refresh_network(network_id, desired)
            self._told[network_id] = (read_at, desired)
        except Exception:
            self._told.pop(network_id, None)
            LOG.exception("Refreshing network %s on this host failed; sync retries", network_id)

    def is_local(self, port: objects.Port) -> bool:
        return bool(port.binding_host_id) and port.binding_host_id == self.core.host

    def unplug_quietly(self, port: objects.Port, network: objects.Network) -> None:
        """Remove a port's devices if they are on this host; a failure is left to ``sync``."""
        if not self.is_local(port):
            return
        try:
            self.core.driver.unplug(port, network)
        except Exception:
            LOG.exception("Unplugging port %s failed; sync will remove its devices", port.id)
        self.refresh_network(network.id)

    def unplug_quietly_many(self, ports: Sequence[tuple[objects.Port, objects.Network]]
                            ) -> None:
        """Remove the devices of those ports that are on this host, in one batch.

        One ``unplug_many`` (the Linux bridge driver deletes all the devices
        in one kernel request); a failure is logged and left to ``sync``.
        The networks the driver did not bring up to date itself during the
        kernel's wait (a grace period of some 17 ms for the batch) are then
        refreshed from the state last told, less these ports.
        """
        local = [(p, n) for p, n in ports if self.is_local(p)]
        if not local:
            return
        refreshes = self._refreshes()
        pending = getattr(self._background, "pending", None)
        if pending is not None and refreshes:
            worker = threading.Thread(target=self._unplug_and_refresh, args=(local, refreshes),
                                      name="naas-unplug", daemon=True)
            worker.start()
            pending.append(worker)
            return
        self._unplug_and_refresh(local, refreshes)

    @contextlib.contextmanager
    def unplugs_in_background(self) -> Iterator[None]:
        """Within the block, this thread's unplugs run beside it; the block's end waits.

        For a caller whose next steps need no device gone, only the
        database (an instance's teardown deletes its ports while the kernel
        removes their devices): the kernel's wait overlaps that work, and
        everything is done when the block ends. Drivers without host-side
        services to refresh unplug in line, as outside the block.
        """
        previous = getattr(self._background, "pending", None)
        pending: list[threading.Thread] = []
        self._background.pending = pending
        try:
            yield
        finally:
            self._background.pending = previous
            for worker in pending:
                worker.join()

    def _unplug_and_refresh(self, local: list[tuple[objects.Port, objects.Network]],
                            refreshes: bool) -> None:
        """Remove the devices; then tell the driver what became of the networks it did
        not bring up to date itself during the removal (from the state last told)."""
        still: list[str] | None = None

        def note(network_ids: list[str]) -> None:  # the driver's networks left to refresh
            nonlocal still
            still = list(network_ids)

        try:
            self.core.driver.unplug_many_overlapping(local, note if refreshes else None)
        except Exception:
            LOG.exception("Unplugging ports %s failed; sync will remove their devices",
                          ", ".join(p.id for p, _n in local))
        if refreshes:  # detached or deleted: not bound here any more
            self.refresh_networks_changed(removed=local, tell=still)

    def unplug_deleted(self, ports: Sequence[objects.Port], network: objects.Network) -> None:
        """Remove the devices of deleted ports that were on this host, in one batch."""
        local = [(p, network) for p in ports if self.is_local(p)]
        if not local:
            return
        try:
            self.core.driver.unplug_many(local)
        except Exception:
            LOG.exception("Unplugging %d ports failed; sync will remove their devices",
                          len(local))
        self.refresh_networks_changed(removed=local)

    def unplug_ports(self, ports: Sequence[tuple[objects.Port, objects.Network]]) -> None:
        """Remove the devices of these ports from this host in one batch (an instance's)."""
        if ports:
            self.core.driver.unplug_many(list(ports))
            for network_id in sorted({n.id for _p, n in ports}):
                self.refresh_network(network_id)

    def replug_network(self, network_id: str) -> None:
        """Apply a network's admin state to its devices on this host now, not at next sync."""
        if not self.core.host:
            return
        with self.core.db.reader() as session:
            port_ids = list(session.scalars(
                sa.select(models.Port.id).join(models.PortBinding,
                                               models.PortBinding.port_id == models.Port.id)
                .where(models.Port.network_id == network_id,
                       models.PortBinding.host == self.core.host)))
        for port_id in port_ids:
            try:
                self.plug_port(port_id)
            except exc.NaasError as e:
                LOG.warning("Re-plugging port %s after its network's update failed: %s",
                            port_id, e)

    def after_port_update(self, before: objects.Port, port: objects.Port,
                          network: objects.Network) -> objects.Port:
        """Apply an update to this host's devices at once (without waiting for sync).

        A port newly bound here is plugged, one bound away is unplugged, and a
        change of ``admin_state_up`` or of the binding profile re-plugs it, so
        the driver takes the device down (or up) and the status follows.
        """
        if not self.core.host:
            return port
        was_here, is_here = self.is_local(before), self.is_local(port)
        if is_here and (before.fixed_ips, before.mac_address) != (port.fixed_ips,
                                                                   port.mac_address):
            self.refresh_network(network.id)
        if was_here and not is_here:
            self.unplug_quietly(before, network)
            return port
        if not is_here or (was_here and before.admin_state_up == port.admin_state_up
                           and before.binding_profile == port.binding_profile):
            return port
        try:
            self.plug_port(port.id)
        except exc.NaasError as e:
            LOG.warning("Re-plugging port %s after its update failed: %s", port.id, e)
        with self.core.db.reader() as session:
            row = session.get(models.Port, port.id)
            return common.load_ports(session, [row])[0] if row is not None else port
