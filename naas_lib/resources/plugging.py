"""This host's devices: plugging, unplugging and the port statuses they produce.

Every host-side effect of an operation goes through here, so resources ask
for "plug this port" or "unplug these" and never call the driver's device
methods themselves. A service without a host plugs nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from naas_lib import constants, events, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import get_admin_context
from naas_lib.db import models
from naas_lib.drivers import base as driver_base
from naas_lib.resources import common, dhcp
from naas_lib.resources.core import Core

LOG = logging.getLogger(__name__)
_ports = models.Port.__table__


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


def as_bound_here(port: objects.Port, binding: models.PortBinding) -> objects.Port:
    """The port as ``binding``'s host sees it: that host's VIF type, details and profile."""
    return port.replace(binding_host_id=binding.host, binding_vif_type=binding.vif_type,
                        binding_vif_details=json.loads(binding.vif_details),
                        binding_profile=json.loads(binding.profile))


class Plugging:
    """Plug and unplug this host's ports and record what became of them."""

    def __init__(self, core: Core) -> None:
        self.core = core
        #: Called with a port right before the driver plugs it (port security: its groups).
        self.before_plug: list[Callable[[objects.Port], None]] = []

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
                    subnets: Sequence[objects.Subnet], record_status: bool = True
                    ) -> objects.Port:
        """Plug a port whose data the caller already holds; the port with its new status.

        ``record_status`` False plugs for an INACTIVE binding: the port's
        status (its ACTIVE host's) is left as it is.
        """
        host = self.core.host
        if port.binding_host_id != host or not host:
            raise exc.BindingFailed(port_id=port.id, host=host,
                                    reason=f"port is bound to {port.binding_host_id!r}")
        driver = self.core.driver
        try:
            for hook in self.before_plug:
                hook(port)
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
        self.refresh_network(net.id)
        return port.replace(status=status, status_reason=None)

    def plug_ports(self, port_ids: Sequence[str]) -> list[objects.Port]:
        """Plug several ports of this host together (a boot's NICs); each with its status.

        The driver's ``plug_many`` gets them all at once (the Linux bridge driver
        programs their port security in one nft transaction). Ports bound here
        through an INACTIVE binding go one by one. After every status is
        recorded, the first failure's DriverError is raised.
        """
        ids = list(dict.fromkeys(port_ids))
        for port_id in ids:
            validation.lookup("port_id", port_id)
        with self.core.db.reader() as session:
            rows = {r.id: r for r in session.scalars(
                sa.select(models.Port).where(models.Port.id.in_(ids)))} if ids else {}
            loaded = {p.id: p for p in common.load_ports(session, list(rows.values()))}
            nets = {r.network_id: common.network_by_id(session, r.network_id)
                    for r in rows.values()}
        host, driver = self.core.host, self.core.driver
        batch, alone, failed = [], [], {}
        for port_id in ids:
            port = loaded.get(port_id)
            if port is None:
                raise exc.PortNotFound(port_id=port_id)
            if not host or port.binding_host_id != host:
                alone.append(port_id)
                continue
            try:
                for hook in self.before_plug:
                    hook(port)
            except Exception as e:  # noqa: BLE001 - this port fails, the others go on
                failed[port_id] = e
                continue
            batch.append((port, nets[port.network_id], self.subnets_of(port)))
        if batch:
            failed.update(driver.plug_many(batch))
        out = {}
        for port, net, _subnets in batch:
            if port.id in failed:
                continue
            up = port.admin_state_up and net.admin_state_up
            status = constants.PORT_STATUS_ACTIVE if up else constants.PORT_STATUS_DOWN
            self.set_port_status(port.id, status)
            out[port.id] = port.replace(status=status, status_reason=None)
        for port_id, e in failed.items():
            reason = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            self.set_port_status(port_id, constants.PORT_STATUS_ERROR, reason[:255])
        for network_id in sorted({n.id for _p, n, _s in batch}):
            self.refresh_network(network_id)
        for port_id in ids:
            if port_id in failed:
                e = failed[port_id]
                if isinstance(e, exc.DriverError):
                    raise e
                raise exc.DriverError(driver=driver.name,
                                      reason=getattr(e, "message", None) or str(e)) from e
        for port_id in alone:
            out[port_id] = self.plug_port(port_id)
        return [out[port_id] for port_id in ids]

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

        A failure is logged and left to ``sync`` (the next round repairs it).
        """
        if not self._refreshes():
            return
        try:
            self.core.driver.refresh_network(network_id, self.network_state(network_id))
        except Exception:
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
        self.refresh_network(network.id)

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
