"""What a network's DHCP/RA responder is told: plain inputs and dnsmasq text.

Pure functions, no I/O: the inputs are small frozen dataclasses that the
driver fills from the database (a network, its subnets, the ports bound to
this host), and the outputs are dnsmasq's command line, hosts file and
options file. :mod:`.dhcp` runs the process; this module only decides what
it says, so every rule here is unit-tested without root.

dnsmasq serves static host entries only: each port's MAC maps to its fixed
IPs (``--dhcp-range=NET,static`` plus ``--dhcp-ignore=tag:!known``), so it
never hands out an address IPAM did not allocate and never answers a MAC
that is not one of this host's ports. DNS is off (``--port=0``).

IPv6 follows Neutron's two subnet attributes:

* ``ipv6_ra_mode`` says whether router advertisements come from us (set) or
  from a router outside the library (unset), and which flags they carry:
  ``slaac`` (A: guests form their own address), ``dhcpv6-stateful`` (M:
  addresses from DHCPv6), ``dhcpv6-stateless`` (A and O: SLAAC address,
  other settings from DHCPv6);
* ``ipv6_address_mode`` says how guests get addresses and so what DHCPv6
  serves: nothing for ``slaac``, addresses for ``dhcpv6-stateful``, only
  options for ``dhcpv6-stateless``; unset with ``ipv6_ra_mode`` unset is the
  old behaviour (static DHCPv6 addresses).

The responder is not the network's gateway, so its advertisements carry a
router lifetime of 0: guests learn prefixes, flags and MTU from it, and a
default IPv6 route only from the gateway's own advertisements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import netaddr

SLAAC = "slaac"
DHCPV6_STATEFUL = "dhcpv6-stateful"
DHCPV6_STATELESS = "dhcpv6-stateless"
IPV6_MODES = (SLAAC, DHCPV6_STATEFUL, DHCPV6_STATELESS)

#: Name of the responder's interface inside its namespace.
RESPONDER_IFNAME = "dhcp0"
#: Default lease time, seconds (Neutron's default ``dhcp_lease_duration``).
DEFAULT_LEASE = 86400
#: Seconds between unsolicited router advertisements.
RA_INTERVAL = 30


@dataclasses.dataclass(frozen=True)
class SubnetSpec:
    """One subnet as the responder needs it.

    ``server_address`` is the responder's own address on the subnet: one
    address reserved from IPAM per subnet and shared by every host.
    """

    id: str
    cidr: str
    ip_version: int
    server_address: str
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination CIDR, nexthop)
    enable_dhcp: bool = True
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    lease_time: int = DEFAULT_LEASE

    def __post_init__(self) -> None:
        net = netaddr.IPNetwork(self.cidr)
        if net.version != self.ip_version:
            raise ValueError(f"subnet {self.id}: {self.cidr} is not IPv{self.ip_version}")
        if netaddr.IPAddress(self.server_address) not in net:
            raise ValueError(f"subnet {self.id}: responder address {self.server_address} "
                             f"is outside {self.cidr}")
        for mode in (self.ipv6_ra_mode, self.ipv6_address_mode):
            if mode is not None and (self.ip_version != 6 or mode not in IPV6_MODES):
                raise ValueError(f"subnet {self.id}: bad IPv6 mode {mode!r}")
        if (self.ipv6_ra_mode and self.ipv6_address_mode
                and self.ipv6_ra_mode != self.ipv6_address_mode):
            raise ValueError(f"subnet {self.id}: ipv6_ra_mode and ipv6_address_mode differ")
        if self.lease_time <= 0:
            raise ValueError(f"subnet {self.id}: lease time must be positive")

    @property
    def tag(self) -> str:
        """dnsmasq tag of the subnet's range and options."""
        return "s" + self.id.replace("-", "")[:12]

    @property
    def prefixlen(self) -> int:
        return netaddr.IPNetwork(self.cidr).prefixlen

    @property
    def address_mode(self) -> str | None:
        """How guests get addresses: the address mode, else what the RA mode implies."""
        return self.ipv6_address_mode or self.ipv6_ra_mode

    @property
    def serves_dhcpv6_addresses(self) -> bool:
        return self.ip_version == 6 and self.address_mode in (None, DHCPV6_STATEFUL)


@dataclasses.dataclass(frozen=True)
class PortSpec:
    """A port this host serves: its MAC and fixed IPs as (subnet id, address)."""

    id: str
    mac: str
    fixed_ips: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """A network's responder on this host: where it attaches and whom it serves."""

    id: str
    bridge: str
    mtu: int
    subnets: tuple[SubnetSpec, ...]
    ports: tuple[PortSpec, ...] = ()

    @property
    def dhcp_subnets(self) -> tuple[SubnetSpec, ...]:
        """Subnets the responder serves (DHCP enabled or RAs asked for)."""
        return tuple(s for s in self.subnets if s.enable_dhcp or s.ipv6_ra_mode)

    @property
    def wanted(self) -> bool:
        """Whether a responder should run at all: something to serve, someone to serve."""
        return bool(self.dhcp_subnets) and bool(self.ports)


def responder_mac(network_id: str) -> str:
    """The responder's MAC on a network: the same on every host, locally administered.

    Every host's responder has the same address, so it has the same MAC too: a
    guest that moves to another host keeps a valid neighbour entry for it.
    """
    digits = network_id.replace("-", "")[:8].ljust(8, "0")
    return "02:d4:" + ":".join(digits[i:i + 2] for i in range(0, 8, 2))


def _range_mode(subnet: SubnetSpec) -> str | None:
    """dnsmasq ``--dhcp-range`` mode of a subnet, or None when it needs no range."""
    if subnet.ip_version == 4:
        return "static" if subnet.enable_dhcp else None
    ra = subnet.ipv6_ra_mode
    addr = subnet.address_mode
    if not subnet.enable_dhcp:
        return "ra-only" if ra else None
    if addr == SLAAC:
        return "ra-only" if ra else None
    if addr == DHCPV6_STATELESS:
        return "ra-stateless" if ra else "static"
    return "static"  # stateful, or the old behaviour with both modes unset


def command_line(spec: NetworkSpec, *, pid_file: str, hosts_file: str, opts_file: str,
                 log_file: str | None = None) -> list[str]:
    """dnsmasq's arguments (without the program) for a network's responder.

    Anything here changes only by restarting the process; what may change
    while it runs (hosts, options) lives in the two files SIGHUP re-reads.
    """
    args = [
        "--conf-file=/dev/null",
        f"--pid-file={pid_file}",
        f"--dhcp-hostsfile={hosts_file}",
        f"--dhcp-optsfile={opts_file}",
        f"--interface={RESPONDER_IFNAME}",
        "--except-interface=lo",
        "--bind-interfaces",
        "--port=0",
        "--no-hosts",
        "--no-resolv",
        "--no-ping",
        "--leasefile-ro",
        "--dhcp-authoritative",
        "--dhcp-ignore=tag:!known",
        "--user=root",
        "--group=root",
    ]
    if log_file:
        args += [f"--log-facility={log_file}", "--log-dhcp"]
    ra = False
    for subnet in spec.dhcp_subnets:
        mode = _range_mode(subnet)
        if mode is None:
            continue
        net = netaddr.IPNetwork(subnet.cidr)
        lease = f"{subnet.lease_time}s"
        if subnet.ip_version == 4:
            args.append(f"--dhcp-range=set:{subnet.tag},{net.network},{mode},"
                        f"{net.netmask},{lease}")
        else:
            args.append(f"--dhcp-range=set:{subnet.tag},{net.network},{mode},"
                        f"{net.prefixlen},{lease}")
            ra = ra or bool(subnet.ipv6_ra_mode)
    if ra:
        args += ["--enable-ra",
                 f"--ra-param={RESPONDER_IFNAME},mtu:{spec.mtu},{RA_INTERVAL},0"]
    return args


def hosts_file(spec: NetworkSpec, memo: dict[str, tuple[PortSpec, str]] | None = None) -> str:
    """The ``--dhcp-hostsfile`` text: one line per (port, served address).

    A port with only a stateless IPv6 address still gets a bare line, so it
    is "known" and its information requests are answered. ``memo`` (port id
    -> (port spec, its lines)), kept by the caller for one network and its
    subnets as they are, reuses the lines of port specs seen before (the same
    objects) and is brought up to date: a plug renders only its own port.
    """
    served = {s.id: s for s in spec.dhcp_subnets if s.enable_dhcp}
    known = dict(memo) if memo is not None else {}
    if memo is not None:
        memo.clear()
    parts = []
    for port in sorted(spec.ports, key=lambda p: p.id):
        hit = known.get(port.id)
        text = hit[1] if hit is not None and hit[0] is port else _host_lines(port, served)
        if memo is not None:
            memo[port.id] = (port, text)
        parts.append(text)
    return "".join(parts)


def _host_lines(port: PortSpec, served: Mapping[str, SubnetSpec]) -> str:
    mac = port.mac.lower()
    mine = []
    stateless = False
    for subnet_id, address in port.fixed_ips:
        subnet = served.get(subnet_id)
        if subnet is None:
            continue
        if subnet.ip_version == 4:
            mine.append(f"{mac},{address}")
        elif subnet.serves_dhcpv6_addresses:
            mine.append(f"{mac},[{address}]")
        elif subnet.address_mode == DHCPV6_STATELESS:
            stateless = True
    if stateless and not mine:
        mine.append(f"{mac},set:known-stateless")
    return "".join(line + "\n" for line in mine)


def _routes_option(subnet: SubnetSpec) -> list[str]:
    """Option 121 values; it carries the default route too (RFC 3442: 121 replaces 3)."""
    values: list[str] = []
    for destination, nexthop in subnet.host_routes:
        if netaddr.IPNetwork(destination).version == 4:
            values += [str(netaddr.IPNetwork(destination).cidr), nexthop]
    if values and subnet.gateway_ip:
        values += ["0.0.0.0/0", subnet.gateway_ip]
    return values


def opts_file(spec: NetworkSpec) -> str:
    """The ``--dhcp-optsfile`` text: per-subnet options, tagged by subnet.

    An empty router or DNS option stops dnsmasq from offering itself, which
    it would by default (it is neither the gateway nor a DNS server).
    """
    lines: list[str] = []
    for subnet in spec.dhcp_subnets:
        if not subnet.enable_dhcp:
            continue
        tag = f"tag:{subnet.tag}"
        if subnet.ip_version == 4:
            lines.append(f"{tag},option:router" + (f",{subnet.gateway_ip}"
                                                   if subnet.gateway_ip else ""))
            dns = [d for d in subnet.dns_nameservers if netaddr.IPAddress(d).version == 4]
            lines.append(f"{tag},option:dns-server" + "".join(f",{d}" for d in dns))
            routes = _routes_option(subnet)
            if routes:
                lines.append(f"{tag},option:classless-static-route," + ",".join(routes))
                lines.append(f"{tag},249," + ",".join(routes))
            lines.append(f"{tag},option:mtu,{spec.mtu}")
        else:
            dns = [d for d in subnet.dns_nameservers if netaddr.IPAddress(d).version == 6]
            lines.append(f"{tag},option6:dns-server" + "".join(f",[{d}]" for d in dns))
    return "".join(line + "\n" for line in lines)


def responder_addresses(spec: NetworkSpec) -> list[str]:
    """The responder's addresses with prefix, one per served subnet."""
    return sorted(f"{s.server_address}/{s.prefixlen}" for s in spec.dhcp_subnets)


def network_spec(network: Any, bridge: str, subnets: Iterable[Any], ports: Iterable[Any],
                 server_addresses: Mapping[str, str],
                 lease_time: int = DEFAULT_LEASE,
                 memo: dict[str, tuple[Any, PortSpec]] | None = None) -> NetworkSpec:
    """A :class:`NetworkSpec` from the library's objects (what the driver's hooks hold).

    ``network`` is an ``objects.Network``, ``subnets`` its ``objects.Subnet``
    values, ``ports`` the ``objects.Port`` values with any binding on this host,
    and ``server_addresses`` maps a subnet id to the responder address reserved
    from IPAM on it; a subnet without one is not served. The IPv6 modes are read
    when the subnet carries them. ``memo`` (port id -> (port object, its spec)),
    kept by the caller for the network, reuses the spec of a port object seen
    before (the same immutable object) and is brought up to date.
    """
    specs = []
    for subnet in subnets:
        server = server_addresses.get(subnet.id)
        if server is None:
            continue
        specs.append(SubnetSpec(
            id=subnet.id, cidr=str(subnet.cidr), ip_version=subnet.ip_version,
            server_address=server, gateway_ip=subnet.gateway_ip,
            dns_nameservers=tuple(subnet.dns_nameservers),
            host_routes=tuple((r.destination, r.nexthop) for r in subnet.host_routes),
            enable_dhcp=subnet.enable_dhcp,
            ipv6_ra_mode=getattr(subnet, "ipv6_ra_mode", None),
            ipv6_address_mode=getattr(subnet, "ipv6_address_mode", None),
            lease_time=lease_time))
    known = dict(memo) if memo is not None else {}
    if memo is not None:
        memo.clear()
    made = []
    for p in ports:
        if p.network_id != network.id:
            continue
        hit = known.get(p.id)
        port_spec = hit[1] if hit is not None and hit[0] is p else PortSpec(
            id=p.id, mac=p.mac_address,
            fixed_ips=tuple((f.subnet_id, f.ip_address) for f in p.fixed_ips))
        if memo is not None:
            memo[p.id] = (p, port_spec)
        made.append(port_spec)
    port_specs = tuple(made)
    return NetworkSpec(id=network.id, bridge=bridge, mtu=network.mtu, subnets=tuple(specs),
                       ports=port_specs)
