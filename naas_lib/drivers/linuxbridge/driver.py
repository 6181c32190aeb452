"""The Linux bridge driver: one bridge per network, a tap or veth per port.

Device layout on a host, per network N with ports P:

* ``brq<N>``: the network's bridge, made with the first port plugged here
  and removed with the last one, with the network's MTU;
* uplink: none for ``local``; for ``flat`` the physical interface mapped to
  the network's physical network joins the bridge; for ``vxlan`` a device
  ``vxn<N>`` with the network's VNI over ``vxlan_endpoint``, learning off,
  whose flooding list (all-zero MAC forwarding entries, head-end
  replication) is the set of peer hosts ``sync`` is given, never multicast;
* per port ``tap<P>`` (a libvirt/QEMU guest opens it) or, when the binding
  profile names a namespace, a veth pair ``nvh<P>`` whose other end lives
  in that namespace under the requested name with the port's MAC.

All kernel access goes through :mod:`.netlink`. Kernel work of processes on
one host is serialized by an oslo.concurrency lock (external when
``lock_path`` is set); correctness across hosts rests on the database.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import netaddr
from oslo_concurrency import lockutils
from oslo_config import cfg

from naas_lib import constants, objects
from naas_lib import exceptions as exc
from naas_lib.drivers import base
from naas_lib.drivers.linuxbridge import dhcp_config, names
from naas_lib.drivers.linuxbridge import netlink as nl
from naas_lib.drivers.linuxbridge.dhcp import DhcpError, DhcpManager
from naas_lib.drivers.linuxbridge.portsec import PortSecurity, TrustedResponders
from naas_lib.drivers.linuxbridge.portsec_wiring import HostPortSecurity
from naas_lib.drivers.linuxbridge.watcher import LinkWatcher

LOG = logging.getLogger(__name__)

#: Largest MTU of a Linux bridge, tap or veth.
MAX_MTU = 65535
DEFAULT_GUEST_IFNAME = "eth0"
#: Seconds a port device this driver removed itself is not reported lost.
OWN_REMOVAL_GRACE = 10.0

OPTS = [
    cfg.ListOpt(
        "physical_interface_mappings", default=[],
        help="PHYSNET:INTERFACE pairs: the host interface that carries each physical "
        "network. A flat network on PHYSNET is served by adding INTERFACE to its bridge. "
        "Without mappings this host serves no flat networks."),
    cfg.IPOpt(
        "vxlan_endpoint", version=4,
        help="This host's IPv4 address on the underlay, the local end of VXLAN tunnels. "
        "Without it this host serves no vxlan networks."),
    cfg.PortOpt("vxlan_udp_port", default=4789,
                help="UDP destination port of VXLAN packets (IANA: 4789)."),
    cfg.StrOpt(
        "lock_path",
        help="Directory of the external lock that serializes kernel work of several "
        "processes of this host. Empty: serialize within this process only."),
    cfg.StrOpt(
        "netns",
        help="Named network namespace the driver works in (a simulated or containerised "
        "host). Empty: the process's own namespace."),
    cfg.BoolOpt(
        "dhcp", default=True,
        help="Run a DHCP/RA responder (dnsmasq) per network for this host's own ports "
        "wherever a subnet has enable_dhcp, and declare the 'dhcp' capability so that "
        "Nova tells guests to use DHCP. Needs dnsmasq (Debian: dnsmasq-base); without it "
        "the capability is not declared. Off: Nova gives guests static addresses "
        "(config drive)."),
    cfg.StrOpt(
        "dhcp_state_path", default="/var/lib/naas/dhcp",
        help="Directory of the responders' pid, hosts and options files, in a subdirectory "
        "named after [linuxbridge] netns ('_host' for the process's own namespace)."),
]


def _device_name(port: objects.Port) -> str:
    return names.veth_host(port.id) if _guest_netns(port) else names.tap(port.id)


def _guest_netns(port: objects.Port) -> str | None:
    netns = port.binding_profile.get("netns") if port.binding_profile else None
    return netns or None


class LinuxBridgeDriver(base.Driver):
    """Realizes local, flat and vxlan networks with Linux bridges (netlink only)."""

    name = "linuxbridge"

    def __init__(self, conf: Any, host: str | None) -> None:
        super().__init__(conf, host)
        self.mappings = self._parse_mappings(conf.physical_interface_mappings if conf else [])
        self.vxlan_endpoint: str | None = (str(conf.vxlan_endpoint)
                                     if conf is not None and conf.vxlan_endpoint else None)
        self.udp_port: int = conf.vxlan_udp_port if conf is not None else 4789
        self.lock_path: str | None = (conf.lock_path or None) if conf is not None else None
        self.kernel = nl.Kernel(conf.netns if conf is not None else None)
        self._lock_name = "naas-linuxbridge-" + (self.kernel.netns or "host").replace("/", "_")
        self._dhcp_enabled = bool(getattr(conf, "dhcp", True)) if conf is not None else False
        self._dnsmasq_found = False
        #: Per network, the DHCP port specs of its last refresh (``_dhcp_specs``).
        self._port_specs: dict[str, dict] = {}
        self._dhcp_state = os.path.join(
            (getattr(conf, "dhcp_state_path", None) if conf is not None else None)
            or "/var/lib/naas/dhcp", self.kernel.netns or "_host")
        self._dhcp_manager: DhcpManager | None = None
        self._portsec_init()
        self._own_removals: dict[str, float] = {}
        self._watcher: LinkWatcher | None = None

    @classmethod
    def get_opts(cls) -> list[cfg.Opt]:
        return list(OPTS)

    @staticmethod
    def _parse_mappings(entries: Iterable[str]) -> dict[str, str]:
        mappings: dict[str, str] = {}
        for entry in entries:
            physnet, sep, iface = entry.partition(":")
            physnet, iface = physnet.strip(), iface.strip()
            if not sep or not physnet or not iface or len(iface) > constants.IFNAMSIZ:
                raise exc.InvalidInput(
                    field="[linuxbridge] physical_interface_mappings",
                    reason=f"{entry!r} is not PHYSNET:INTERFACE")
            if physnet in mappings:
                raise exc.InvalidInput(field="[linuxbridge] physical_interface_mappings",
                                       reason=f"physical network {physnet} mapped twice")
            mappings[physnet] = iface
        return mappings

    def endpoint(self) -> str | None:
        """The configured ``vxlan_endpoint``: what other hosts send this host's VXLAN to."""
        return self.vxlan_endpoint

    def physical_networks(self) -> list[str] | None:
        """Physical networks this host can serve flat networks on (the mapped ones)."""
        return sorted(self.mappings)

    def close(self) -> None:
        self.stop_watching()
        self.kernel.close()
        self.portsec.portsec.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with lockutils.lock(self._lock_name, external=bool(self.lock_path),
                            lock_path=self.lock_path):
            yield

    # -- negotiation -----------------------------------------------------------

    def describe(self) -> base.Capabilities:
        """local always, flat with mappings, vxlan with an endpoint; never vlan.

        This driver makes no 802.1Q devices (and the kernels this runs on are
        built without them), so ``vlan`` is not offered.
        """
        types = {constants.TYPE_LOCAL}
        if self.mappings:
            types.add(constants.TYPE_FLAT)
        if self.vxlan_endpoint:
            types.add(constants.TYPE_VXLAN)
        return base.Capabilities(
            network_types=frozenset(types),
            vif_types=frozenset({constants.VIF_TYPE_TAP, constants.VIF_TYPE_VETH}),
            max_mtu=MAX_MTU, port_security=self._portsec_capable(),
            dhcp=self._dhcp_offered())

    def check_network(self, network: objects.Network) -> str | None:
        """Why this host cannot serve ``network``, naming the missing option; else None."""
        kind = network.network_type
        if kind == constants.TYPE_VXLAN and not self.vxlan_endpoint:
            return ("this host has no VXLAN endpoint: set [linuxbridge] vxlan_endpoint "
                    "to serve vxlan networks")
        if kind == constants.TYPE_FLAT and network.physical_network not in self.mappings:
            return (f"physical network {network.physical_network} is not mapped to an "
                    f"interface on this host: add it to [linuxbridge] "
                    f"physical_interface_mappings")
        if kind == constants.TYPE_VLAN:
            return ("network type vlan is not supported by the linuxbridge driver "
                    "(no 802.1Q support); supported: "
                    + ", ".join(sorted(self.describe().network_types)))
        limit = MAX_MTU - constants.ENCAP_OVERHEAD.get(kind, 0)
        if network.mtu > limit:
            return f"MTU {network.mtu} exceeds the largest {kind} MTU {limit}"
        return super().check_network(network)

    @classmethod
    def bind_port(cls, port: objects.Port, network: objects.Network,
                  host: str | None = None) -> base.Binding:
        details: dict[str, Any] = {"bridge_name": names.bridge(network.id),
                                   "devname": _device_name(port), "mtu": network.mtu}
        netns = _guest_netns(port)
        if netns is None:
            return base.Binding(vif_type=constants.VIF_TYPE_TAP, vif_details=details)
        ifname = port.binding_profile.get("ifname") or DEFAULT_GUEST_IFNAME
        if (not isinstance(netns, str) or "/" in netns or not isinstance(ifname, str)
                or not 0 < len(ifname) <= constants.IFNAMSIZ):
            raise exc.BindingFailed(port_id=port.id, host=host,
                                    reason="binding_profile needs a namespace name in "
                                    "'netns' and an 'ifname' of at most 15 characters")
        details.update(netns=netns, ifname=ifname,
                       configure_ip=bool(port.binding_profile.get("configure_ip", False)))
        return base.Binding(vif_type=constants.VIF_TYPE_VETH, vif_details=details)

    # -- plug ------------------------------------------------------------------

    def plug(self, port: objects.Port, network: objects.Network,
             subnets: Sequence[objects.Subnet] = ()) -> None:
        """Make the network's bridge and uplink if needed, then the port's device.

        A repeat finds everything in place and changes nothing. A failure
        part-way removes what this call made and raises DriverError.
        """
        made: list[int | str] = []
        try:
            with self._locked():
                self._own_removals.pop(_device_name(port), None)
                try:
                    self._portsec_plug(port, made)
                    bridge = self._ensure_network(network, made)
                    self._ensure_port(port, network, bridge, subnets, made)
                except BaseException:
                    self._undo(made)
                    raise
        except exc.NaasError:
            raise
        except (nl.NetlinkError, OSError) as e:
            raise exc.DriverError(driver=self.name, reason=_reason(port, e)) from e

    def plug_many(self, items: Sequence[tuple[objects.Port, objects.Network,
                                              Sequence[objects.Subnet]]]
                  ) -> dict[str, Exception]:
        """Plug several ports: their port security in one nft transaction, then devices.

        Returns the failures by port id; a failed port's rules and devices are undone.
        """
        items = list(items)
        failed: dict[str, Exception] = {}
        if not items:
            return failed
        with self._locked():
            for port, _n, _s in items:
                self._own_removals.pop(_device_name(port), None)
            try:
                fresh = self._portsec_plug_many([port for port, _n, _s in items])
            except exc.NaasError as e:
                return {port.id: e for port, _n, _s in items}
            for port, network, subnets in items:
                made: list[int | str] = list(fresh.get(port.id, ()))
                try:
                    bridge = self._ensure_network(network, made)
                    self._ensure_port(port, network, bridge, subnets, made)
                except Exception as e:  # noqa: BLE001 - reported per port
                    self._undo(made)
                    failed[port.id] = e if isinstance(e, exc.NaasError) else exc.DriverError(
                        driver=self.name, reason=_reason(port, e))
                except BaseException:
                    self._undo(made)
                    raise
        return failed

    def _undo(self, made: list[int | str]) -> None:
        for device in reversed(made):
            try:
                if isinstance(device, str) and device.startswith(_PORTSEC_UNDO):
                    self.portsec.remove(device[len(_PORTSEC_UNDO):])
                    continue
                if isinstance(device, str):
                    link = self.kernel.get_link(device)
                    if link is None:
                        continue
                    device = link.index
                self.kernel.delete_link(device)
            except Exception:  # keep the original error; sync removes leftovers
                LOG.exception("Could not remove device %s while undoing a plug", device)

    def _ensure_network(self, network: objects.Network, made: list[int | str],
                        report: base.SyncReport | None = None) -> nl.Link:
        """The network's bridge and uplink, made or corrected; returns the bridge."""
        name = names.bridge(network.id)
        bridge = self.kernel.get_link(name)
        if bridge is None:
            bridge = self.kernel.create_bridge(name, network.mtu)
            made.append(bridge.index)
            _note(report, "created", f"bridge {name}")
        elif bridge.mtu != network.mtu or not bridge.up:
            self.kernel.set_link(bridge.index, mtu=network.mtu, up=True)
            _note(report, "fixed", f"bridge {name}")
        if network.network_type == constants.TYPE_FLAT:
            self._ensure_physical(network, bridge, report)
        elif network.network_type == constants.TYPE_VXLAN:
            self._ensure_vxlan(network, bridge, made, report)
        return bridge

    def _ensure_physical(self, network: objects.Network, bridge: nl.Link,
                         report: base.SyncReport | None) -> None:
        iface = self.mappings.get(network.physical_network or "")
        if iface is None:
            raise exc.DriverError(driver=self.name, reason=self.check_network(network))
        link = self.kernel.get_link(iface)
        if link is None:
            raise exc.DriverError(
                driver=self.name,
                reason=f"interface {iface} of physical network {network.physical_network} "
                f"([linuxbridge] physical_interface_mappings) does not exist")
        if link.master != bridge.index or not link.up:
            if link.master not in (None, bridge.index):
                raise exc.DriverError(
                    driver=self.name,
                    reason=f"interface {iface} already belongs to another bridge")
            self.kernel.set_link(link.index, master=bridge.index, up=True)
            _note(report, "fixed", f"uplink {iface} on {bridge.name}")

    def _ensure_vxlan(self, network: objects.Network, bridge: nl.Link, made: list[int | str],
                      report: base.SyncReport | None) -> nl.Link:
        if not self.vxlan_endpoint:
            raise exc.DriverError(driver=self.name, reason=self.check_network(network))
        name = names.vxlan(network.id)
        link = self.kernel.get_link(name)
        if link is None:
            link = self.kernel.create_vxlan(name, network.segmentation_id, self.vxlan_endpoint,
                                            self.udp_port, network.mtu, bridge.index)
            made.append(link.index)
            _note(report, "created", f"vxlan {name} vni {network.segmentation_id}")
        elif link.master != bridge.index or link.mtu != network.mtu or not link.up:
            self.kernel.set_link(link.index, mtu=network.mtu, master=bridge.index, up=True)
            _note(report, "fixed", f"vxlan {name}")
        return link

    def _ensure_port(self, port: objects.Port, network: objects.Network, bridge: nl.Link,
                     subnets: Sequence[objects.Subnet], made: list[int | str],
                     report: base.SyncReport | None = None) -> None:
        up = port.admin_state_up and network.admin_state_up
        netns = _guest_netns(port)
        if netns is None:
            name = names.tap(port.id)
            if report is None:
                # Plug path: create (or find) and configure in two kernel calls.
                if self.kernel.create_tap(name, network.mtu, bridge.index, up):
                    made.append(name)
                return
            link = self.kernel.get_link(name)
            if link is None:  # e.g. Nova's own unplug on the tap path deleted it
                self.kernel.create_tap(name, network.mtu, bridge.index, up)
                _note(report, "created", f"tap {name}")
                _repaired(report, port)
            elif (link.mtu, link.master, link.up) != (network.mtu, bridge.index, up):
                self.kernel.set_link(link.index, mtu=network.mtu, master=bridge.index, up=up)
                _note(report, "fixed", f"tap {name}")
                if link.master != bridge.index:  # e.g. a bare tap Nova made: adopted
                    _repaired(report, port)
            return
        name = names.veth_host(port.id)
        link = self.kernel.get_link(name)
        if link is not None and link.master != bridge.index:
            # Made but never attached: a plug died part-way. Start again.
            self.kernel.delete_link(link.index)
            _note(report, "removed", f"half-made veth {name}")
            link = None
        if link is None:
            link = self.kernel.create_veth(
                name, network.mtu, netns, port.binding_profile.get("ifname")
                or DEFAULT_GUEST_IFNAME, port.mac_address)
            made.append(link.index)
            self._configure_guest(port, subnets)
            self.kernel.set_link(link.index, master=bridge.index, up=up)
            _note(report, "created", f"veth {name}")
            _repaired(report, port)
        elif link.mtu != network.mtu or link.up != up:
            self.kernel.set_link(link.index, mtu=network.mtu, up=up)
            _note(report, "fixed", f"veth {name}")

    def _configure_guest(self, port: objects.Port, subnets: Sequence[objects.Subnet]) -> None:
        profile = port.binding_profile
        ifname = profile.get("ifname") or DEFAULT_GUEST_IFNAME
        addresses: list[tuple[str, int]] = []
        gateways: list[str] = []
        if profile.get("configure_ip"):
            by_id = {s.id: s for s in subnets}
            for fixed in port.fixed_ips:
                ip = netaddr.IPAddress(fixed.ip_address)
                subnet = by_id.get(fixed.subnet_id)
                prefix = (netaddr.IPNetwork(subnet.cidr).prefixlen if subnet
                          else (32 if ip.version == 4 else 128))
                addresses.append((str(ip), prefix))
                if subnet and subnet.gateway_ip:
                    gateway = netaddr.IPAddress(subnet.gateway_ip)
                    if gateway.version not in {netaddr.IPAddress(g).version for g in gateways}:
                        gateways.append(str(gateway))
        nl.configure_guest(_guest_netns(port), ifname, addresses, gateways)

    # -- unplug ----------------------------------------------------------------

    def unplug(self, port: objects.Port, network: objects.Network) -> None:
        """Remove the port's device, and the network's bridge with its last port."""
        self.unplug_many([(port, network)])

    def unplug_many(self, ports: Iterable[tuple[objects.Port, objects.Network]]) -> None:
        """Remove many ports' devices, and emptied bridges, in one kernel batch."""
        self.unplug_many_overlapping(ports, None)

    def unplug_many_overlapping(self, ports: Iterable[tuple[objects.Port, objects.Network]],
                                meanwhile: Callable[[list[str]], None] | None) -> None:
        """:meth:`unplug_many`, with the caller's refresh during the kernel's wait.

        The batch's one delete request is answered after an RCU grace period
        (some 17 ms). During that wait the ports' rules go, the DHCP
        responders of networks that keep local ports stop serving them (from
        what they last served: no database read), and ``meanwhile`` gets the
        networks that still need the caller's refresh (emptied ones, or a
        responder another process changed). Returns once the devices are
        gone; the host lock is held throughout, so no plug sees a bridge
        that is being deleted.
        """
        ports = list(ports)
        network_ids = list(dict.fromkeys(network.id for _port, network in ports))
        if not ports:
            if meanwhile is not None:
                meanwhile([])
            return
        try:
            with self._locked():
                self._removing(name for port, _n in ports
                               for name in (names.tap(port.id), names.veth_host(port.id)))
                finish, emptied = self._unplug_locked(ports)
                try:
                    self._portsec_unplug(ports)
                    stale = [i for i in network_ids if i in emptied
                             or not self._dhcp_forget(i, [p.id for p, n in ports if n.id == i])]
                    if meanwhile is not None:
                        meanwhile(stale)
                except BaseException:
                    with contextlib.suppress(Exception):
                        finish()
                    raise
                finish()
        except (nl.NetlinkError, OSError) as e:
            raise exc.DriverError(driver=self.name, reason=f"unplug failed: {e}") from e

    def _dhcp_forget(self, network_id: str, port_ids: list[str]) -> bool:
        """Whether the network's responder here no longer serves ``port_ids`` (lock held)."""
        if not self._dhcp_offered():
            return True  # nothing here follows the network's ports
        try:
            return self.dhcp.forget(network_id, port_ids)
        except (DhcpError, OSError) as e:
            LOG.warning("DHCP responder of %s kept removed ports (refreshing): %s",
                        network_id, e)
            return False

    def _unplug_locked(self, ports: list[tuple[objects.Port, objects.Network]]
                       ) -> tuple[Callable[[], None], list[str]]:
        """Start deleting the ports' devices and emptied bridges in one batch.

        Returns the call that waits for the kernel, then removes the DHCP
        responders of the emptied networks; and those networks.
        """
        doomed: set[int] = set()
        emptied: list[str] = []
        networks: dict[str, objects.Network] = {}
        # Lookups by name, not a dump of the whole host.
        for port, network in ports:
            networks[network.id] = network
            doomed.update(link.index for link in map(
                self.kernel.get_link, (names.tap(port.id), names.veth_host(port.id)))
                if link is not None)
        for network_id in networks:
            bridge = self.kernel.get_link(names.bridge(network_id))
            if bridge is None or self.kernel.any_port(
                    bridge.index,
                    lambda m: names.is_port_device(m.name) and m.index not in doomed):
                continue
            vx = self.kernel.get_link(names.vxlan(network_id))
            doomed.update(i.index for i in (vx, bridge) if i is not None)
            emptied.append(network_id)
        wait = self.kernel.delete_links_started(doomed)

        def finish() -> None:
            wait()
            self._dhcp_remove(emptied)

        return finish, emptied

    def is_plugged(self, port: objects.Port, network: objects.Network) -> bool:
        """ACTIVE test: the device exists, is up and is on the network's bridge."""
        link = self.kernel.get_link(_device_name(port))
        if link is None or not link.up:
            return False
        bridge = self.kernel.get_link(names.bridge(network.id))
        return bridge is not None and link.master == bridge.index

    def forget_mac(self, network: objects.Network, mac: str) -> None:
        """Forget where ``mac`` was on this host's bridge of ``network`` (a port moved).

        The bridge floods frames to the MAC until it hears from it again, so
        a moved guest is reached at once rather than after its entry ages out.
        """
        try:
            with self._locked():
                bridge = self.kernel.get_link(names.bridge(network.id))
                if bridge is None:
                    return
                vx = self.kernel.get_link(names.vxlan(network.id))
                self.kernel.forget_mac(bridge.index, mac, vx.index if vx else None)
        except (nl.NetlinkError, OSError) as e:
            raise exc.DriverError(driver=self.name, reason=f"forgetting {mac}: {e}") from e

    # -- link watch (watcher.py listens; these say what counts as lost) ---------------

    def watch(self, on_lost: Callable[[str | None], None]) -> None:
        """Report port devices that vanish or leave their bridge, as they do.

        ``on_lost`` gets the 11 characters of port id of each such device
        (None when events were dropped), from a daemon thread, never for a
        device this driver is removing itself. Again while watching: no-op.
        """
        if self._watcher is not None and self._watcher.running:
            return
        self._watcher = LinkWatcher(self.kernel.netns, self.device_lost, on_lost)
        self._watcher.start()

    def stop_watching(self) -> None:
        """End the watch thread and close its socket."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None and not watcher.stop():
            LOG.warning("Link watcher of %s did not end", self.kernel.netns or "host")

    def device_lost(self, name: str) -> bool:
        """Whether port device ``name`` is missing or on no bridge, and not by our doing."""
        with self._locked():  # after any plug or unplug in progress
            deadline = self._own_removals.get(name)
            if deadline is not None:
                if deadline > time.monotonic():
                    return False
                self._own_removals.pop(name, None)
            link = self.kernel.get_link(name)
            return link is None or link.master is None

    def _removing(self, device_names: Iterable[str]) -> None:
        """Note port devices this driver is about to delete (lock held): removed, not lost."""
        deadline = time.monotonic() + OWN_REMOVAL_GRACE
        now = time.monotonic()
        for name in [n for n, d in self._own_removals.items() if d <= now]:
            self._own_removals.pop(name, None)
        for name in device_names:
            if names.is_port_device(name):
                self._own_removals[name] = deadline

    # -- sync ------------------------------------------------------------------

    def sync(self, desired: base.DesiredState) -> base.SyncReport:
        """Make this host's devices and VXLAN flooding lists match ``desired``.

        Creates what is missing, corrects MTU, master and state, programs one
        flooding entry per peer endpoint and drops entries of peers gone, and
        removes owned devices (by name prefix) the database no longer wants.
        A port that cannot be realized lands in ``failed_ports`` with the
        reason; the others are still served.
        """
        report = base.SyncReport()
        subnets = list(getattr(desired, "subnets", {}).values())
        with self._locked():
            networks: dict[str, objects.Network] = {}
            bridges: dict[str, nl.Link] = {}
            for _port, network in desired.ports:
                networks.setdefault(network.id, network)
            for network in networks.values():
                try:
                    bridges[network.id] = self._ensure_network(network, [], report)
                except (exc.NaasError, nl.NetlinkError, OSError) as e:
                    LOG.warning("Sync could not realize network %s: %s", network.id, e)
            for port, network in desired.ports:
                bridge = bridges.get(network.id)
                if bridge is None:
                    report.failed_ports[port.id] = (
                        f"network {network.id} could not be realized on this host")
                    continue
                try:
                    self._ensure_port(port, network, bridge, subnets, [], report)
                except (exc.NaasError, nl.NetlinkError, OSError) as e:
                    report.failed_ports[port.id] = _reason(port, e)
                    continue
                if port.admin_state_up and network.admin_state_up:
                    report.active_ports.append(port.id)
                else:
                    report.down_ports.append(port.id)
            for network in networks.values():
                if network.network_type == constants.TYPE_VXLAN and network.id in bridges:
                    self._sync_peers(network, desired.peers.get(network.id, ()), report)
            self._remove_unwanted(desired, report)
            self._dhcp_sync(desired, bridges, report)
            self._portsec_sync(desired, report)
        return report

    # -- DHCP responders (dhcp.py runs them; these helpers feed it) ----------------

    def _dhcp_offered(self) -> bool:
        """The ``dhcp`` capability: enabled by ``[linuxbridge] dhcp`` and dnsmasq installed.

        Once dnsmasq was found it is not looked up again (every plug asks);
        while it is missing, each call looks (it may be installed meanwhile).
        """
        if not self._dhcp_enabled:
            return False
        if not self._dnsmasq_found:
            self._dnsmasq_found = shutil.which("dnsmasq") is not None
        return self._dnsmasq_found

    @property
    def dhcp(self) -> DhcpManager:
        """This host's responders (made on first use: it creates the state directory)."""
        if self._dhcp_manager is None:
            self._dhcp_manager = DhcpManager(self._dhcp_state, host_netns=self.kernel.netns,
                                             scope=self.host, get_link=self.kernel.get_link)
        return self._dhcp_manager

    @staticmethod
    def _dhcp_specs(desired: base.DesiredState, only: Iterable[str] | None = None,
                    memos: dict[str, dict] | None = None) -> list[dhcp_config.NetworkSpec]:
        """One responder spec per network of ``desired`` (or of ``only``).

        ``memos``, by network id: the port specs made last time (see
        ``dhcp_config.network_spec``), kept up to date here.
        """
        networks: dict[str, objects.Network] = {}
        for _port, network in desired.ports:
            networks.setdefault(network.id, network)
        ports = [p for p, _n in desired.ports]
        servers = getattr(desired, "dhcp_addresses", {})
        subnets = list(getattr(desired, "subnets", {}).values())
        wanted = set(only) if only is not None else set(networks)
        return [dhcp_config.network_spec(
                    network, names.bridge(network.id),
                    [s for s in subnets if s.network_id == network.id], ports, servers,
                    memo=None if memos is None else memos.setdefault(network.id, {}))
                for network in networks.values() if network.id in wanted]

    def _dhcp_remove(self, network_ids: Iterable[str]) -> None:
        """Remove the responders of networks whose last local port went (lock held)."""
        if not self._dhcp_offered():
            return
        for network_id in network_ids:
            try:
                self.dhcp.remove(network_id)
            except (DhcpError, OSError) as e:
                LOG.warning("Removing the DHCP responder of %s failed (sync retries): %s",
                            network_id, e)

    def _dhcp_sync(self, desired: base.DesiredState, bridges: dict[str, nl.Link],
                   report: base.SyncReport) -> None:
        """Make this host's responders match ``desired`` and fold what changed into ``report``."""
        if not self._dhcp_offered():
            return
        specs = [s for s in self._dhcp_specs(desired) if s.id in bridges]
        dhcp_report = self.dhcp.sync(specs)
        report.created.extend(f"dhcp responder {i}" for i in dhcp_report.started)
        report.fixed.extend(f"dhcp responder {i} (restarted)" for i in dhcp_report.restarted)
        report.fixed.extend(f"dhcp responder {i} (hosts/options)" for i in dhcp_report.updated)
        report.removed.extend(f"dhcp responder {i}" for i in dhcp_report.removed)
        for network_id, error in dhcp_report.errors.items():
            LOG.warning("DHCP responder of network %s could not be set up: %s",
                        network_id, error)

    def refresh_network(self, network_id: str, desired: base.DesiredState) -> None:
        """Bring the network's responder here in line with ``desired`` now, without restart.

        ``desired`` holds this host's ports of the network, its subnets and the
        reserved addresses; with no local port left the responder goes.
        """
        if not self._dhcp_offered():
            return
        # A plug's refresh makes the spec of the new port only (the others' are kept).
        specs = self._dhcp_specs(desired, only=[network_id], memos=self._port_specs)
        if not specs:
            self._port_specs.pop(network_id, None)
        try:
            with self._locked():
                bridge = self.kernel.get_link(names.bridge(network_id)) if specs else None
                if bridge is None:
                    self.dhcp.remove(network_id)
                    return
                self.dhcp.ensure(specs[0], bridge)
        except (DhcpError, OSError, nl.NetlinkError) as e:
            raise exc.DriverError(driver=self.name,
                                  reason=f"DHCP responder of network {network_id}: {e}") from e

    # -- port security (see portsec_wiring; one call per hook above) ----------------

    def _portsec_init(self) -> None:
        # The DHCP responder's veth ("dhv...") is trusted for DHCP replies and RAs.
        self.portsec = HostPortSecurity(PortSecurity(
            self.kernel.netns, TrustedResponders(prefixes=("dhv",))))
        self._portsec_reason: str | None = None

    def _portsec_capable(self) -> bool:
        """Whether this host can enforce port security; logs the setting needed once."""
        able, reason = self.portsec.portsec.capable()
        if not able and reason != self._portsec_reason:
            LOG.warning("Port security cannot be enforced on this host: %s; ports that need "
                        "it will not be bound here", reason)
        self._portsec_reason = None if able else reason
        return able

    def _portsec_plug(self, port: objects.Port, made: list[int | str]) -> None:
        """Rules before the device exists, so the guest's first frame is filtered."""
        device = _device_name(port)
        known = self.portsec.portsec.programs(device)
        self.portsec.apply(port, device)
        if not known:
            made.append(_PORTSEC_UNDO + device)

    def _portsec_plug_many(self, ports: Sequence[objects.Port]) -> dict[str, list[str]]:
        """All the ports' rules in one transaction; the undo entry of each new one."""
        devices = [(port, _device_name(port)) for port in ports]
        known = {device for _port, device in devices if self.portsec.portsec.programs(device)}
        self.portsec.apply_many(devices)
        return {port.id: [_PORTSEC_UNDO + device] for port, device in devices
                if device not in known}

    def _portsec_unplug(self, ports: list[tuple[objects.Port, objects.Network]]) -> None:
        for port, _network in ports:
            self.portsec.remove(_device_name(port))

    def _portsec_sync(self, desired: base.DesiredState, report: base.SyncReport) -> None:
        try:
            done = self.portsec.sync(desired, [(p, _device_name(p)) for p, _ in desired.ports])
        except exc.NaasError as e:
            LOG.warning("Sync could not program port security: %s", e)
            for port, _network in desired.ports:
                if port.port_security_enabled:
                    report.failed_ports[port.id] = f"port security: {e}"
            return
        report.created.extend(f"port security {d}" for d in done.added)
        report.removed.extend(f"port security {d}" for d in done.removed)
        if done.repaired:
            report.fixed.append("port security tables")

    def update_security_group(self, state: base.SecurityGroupState) -> None:
        with self._locked():
            self.portsec.update_group(state)

    def update_security_group_members(self, group_id: str, addresses: Sequence[str]) -> None:
        with self._locked():
            self.portsec.update_members(group_id, addresses)

    def prepare_security_groups(self, states: Sequence[base.SecurityGroupState]) -> None:
        with self._locked():  # programmed with the port, in the plug's one transaction
            self.portsec.prepare(states)

    def security_group_revisions(self) -> dict[str, int]:
        return dict(self.portsec.revisions)

    def _sync_peers(self, network: objects.Network, peers: Iterable[base.Peer],
                    report: base.SyncReport) -> None:
        name = names.vxlan(network.id)
        link = self.kernel.get_link(name)
        if link is None:
            return
        wanted = {p.endpoint for p in peers if p.endpoint and p.endpoint != self.vxlan_endpoint}
        present = self.kernel.flood_peers(link.index)
        for endpoint in sorted(wanted - present):
            self.kernel.add_flood_peer(link.index, endpoint)
            report.created.append(f"flood entry {name} -> {endpoint}")
        for endpoint in sorted(present - wanted):
            self.kernel.remove_flood_peer(link.index, endpoint)
            report.removed.append(f"flood entry {name} -> {endpoint}")

    def _remove_unwanted(self, desired: base.DesiredState, report: base.SyncReport) -> None:
        wanted: set[str] = set()
        for port, network in desired.ports:
            wanted.update((_device_name(port), names.bridge(network.id)))
            if network.network_type == constants.TYPE_VXLAN:
                wanted.add(names.vxlan(network.id))
        links = self.kernel.links()
        doomed = [link for link in links
                  if names.is_owned(link.name) and link.name not in wanted]
        if doomed:
            self._removing(link.name for link in doomed)
            self.kernel.delete_links((link.index for link in doomed), known=links)
            report.removed.extend(f"{link.kind or 'device'} {link.name}" for link in doomed)


#: Marks a port-security entry in a plug's undo list (not a device).
_PORTSEC_UNDO = "portsec:"


def _note(report: base.SyncReport | None, what: str, text: str) -> None:
    if report is not None:
        getattr(report, what).append(text)


def _repaired(report: base.SyncReport | None, port: objects.Port) -> None:
    """The port's device was missing or off its bridge when the round looked."""
    if report is not None:
        report.repaired_ports.append(port.id)


def _reason(port: objects.Port, error: BaseException) -> str:
    """A readable reason for a failed plug, naming the errno when the kernel gave one."""
    if isinstance(error, exc.NaasError):
        return error.message
    code = getattr(error, "code", None) or getattr(error, "errno", None)
    text = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    detail = f"{text} {error}".strip()
    return f"plugging port {port.id} failed: {detail}"

