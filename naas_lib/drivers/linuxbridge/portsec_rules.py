"""Port security and security groups as nftables script text (pure: no I/O).

The inputs are small frozen dataclasses (a port, a security group and its
rules, the host's trusted DHCP/RA responders); the outputs are ``nft -f``
script fragments. :mod:`naas_lib.drivers.linuxbridge.portsec` strings them
into one transaction per change and runs it.

Two tables, owned by this module and nothing else:

``bridge naas_portsec``
    Stateless anti-spoofing on the guest's port device (a ``prerouting``
    chain at priority -300 jumps, by ``iifname``, to the port's
    ``spoof_<dev>`` chain), and the packet marks that name the ports of a
    bridged packet (a ``forward`` chain at priority -300).

``inet naas_sg``
    Stateful security groups in the ``forward`` hook, which bridged IP
    traffic reaches when the host sets ``net.bridge.bridge-nf-call-iptables``
    and ``...-ip6tables`` to 1 (this kernel has no conntrack in the bridge
    family). Interface names there are the bridge's, so the ports are known
    by the mark only.

Mark layout (32 bits of ``meta mark``, owned by this module for bridged
frames that enter or leave a filtered port):

* bits 16-30: index of the filtered port the frame came from (egress rules);
* bits 0-14: index of the filtered port the frame goes to (ingress rules);
* bit 31: the frame came from a trusted responder (DHCP server, RA sender).

Port indexes (1..32767) are allocated by the caller and kept for a
device's lifetime; they are recorded in the ``from_mark`` map, so a new
process recovers them from the kernel.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from naas_lib import exceptions as exc

BRIDGE_TABLE = "naas_portsec"
INET_TABLE = "naas_sg"
MAX_PORT_INDEX = 0x7FFF
FROM_SHIFT = 16
TRUSTED_BIT = 0x80000000
PRIORITY = -300

INGRESS = "ingress"
EGRESS = "egress"
IPV4 = "IPv4"
IPV6 = "IPv6"

#: Protocol names accepted in a rule, as Neutron accepts them, and their numbers.
PROTOCOLS = {
    "icmp": 1, "igmp": 2, "tcp": 6, "egp": 8, "udp": 17, "ipv6-encap": 41, "ipv6-route": 43,
    "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89, "pgm": 113, "vrrp": 112, "sctp": 132,
    "udplite": 136, "dccp": 33,
}
#: Protocols whose rules may carry a port range (a transport header with ports).
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ICMP_PROTOCOLS = {1, 58}

_DEVICE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


# -- inputs ------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressPair:
    """An extra address (an IP or a CIDR) a port may send from, with an optional MAC."""

    ip_address: str
    mac_address: str | None = None


@dataclass(frozen=True)
class PortSpec:
    """What the host must enforce for one port's device (``tap...`` or a veth)."""

    device: str
    mac: str
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    port_security_enabled: bool = True
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecurityGroupRule:
    """One rule of a group, in Neutron's shape (``port_range_*`` are type/code for ICMP)."""

    direction: str
    ethertype: str = IPV4
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    id: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SecurityGroup:
    """A group's rules and, when known, the addresses of its members (all hosts)."""

    id: str
    rules: tuple[SecurityGroupRule, ...] = ()
    members: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TrustedResponders:
    """Devices of this host's DHCP/RA responders, whose replies every port accepts.

    By exact device name, by device-name prefix, or by source MAC.
    """

    devices: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    macs: frozenset[str] = frozenset()


# -- validation ----------------------------------------------------------------------


def _network(value: str, what: str, strict: bool, error) -> ipaddress._BaseNetwork:
    try:
        return ipaddress.ip_network(value, strict=strict)
    except ValueError as e:
        raise error(what, str(e)) from None


def check_mac(mac: str, field_name: str = "mac_address") -> str:
    """A lower-case unicast MAC, or InvalidInput."""
    if not isinstance(mac, str) or not _MAC_RE.match(mac.lower()):
        raise exc.InvalidInput(field=field_name, reason=f"{mac!r} is not a MAC address")
    if int(mac[:2], 16) & 1:
        raise exc.InvalidInput(field=field_name, reason=f"{mac} is a multicast MAC address")
    return mac.lower()


def check_id(value: str, field_name: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise exc.InvalidInput(field=field_name, reason=f"{value!r} is not a valid id")
    return value


def check_port(port: PortSpec) -> PortSpec:
    """Raise a typed error for a port whose rules could not be enforced as asked."""
    if not isinstance(port.device, str) or not _DEVICE_RE.match(port.device):
        raise exc.InvalidInput(field="device", reason=f"{port.device!r} is not a device name")
    check_mac(port.mac)
    for ip in port.fixed_ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise exc.InvalidInput(field="fixed_ips", reason=f"{ip!r} is not an IP address") \
                from None
    for gid in port.security_groups:
        check_id(gid, "security_groups")
    if not port.port_security_enabled and (port.security_groups or port.allowed_address_pairs):
        raise exc.InvalidInput(
            field="port_security_enabled",
            reason="port security cannot be off on a port with security groups or "
                   "allowed address pairs")
    seen: dict[str, list[ipaddress._BaseNetwork]] = {}
    for pair in port.allowed_address_pairs:
        label = f"{pair.ip_address}" + (f" ({pair.mac_address})" if pair.mac_address else "")
        if not isinstance(pair.ip_address, str):
            raise exc.InvalidAllowedAddressPair(pair=label, reason="ip_address is required")
        net = _network(pair.ip_address, label, True,
                       lambda w, r: exc.InvalidAllowedAddressPair(
                           pair=w, reason=f"not an IP address or a CIDR without host bits ({r})"))
        mac = check_mac(pair.mac_address, "allowed_address_pairs") if pair.mac_address \
            else port.mac.lower()
        for other in seen.setdefault(mac, []):
            if other.version == net.version and other.overlaps(net):
                raise exc.InvalidAllowedAddressPair(
                    pair=label, reason=f"it overlaps another pair ({other}) with the same MAC")
        seen[mac].append(net)
    return port


def protocol_number(rule: SecurityGroupRule) -> int | None:
    """The IP protocol number of a rule (``icmp`` on IPv6 means ICMPv6), or None for any."""
    proto = rule.protocol
    if proto is None or proto == "" or proto == "any":
        return None
    if isinstance(proto, bool):
        raise exc.InvalidSecurityGroupRule(reason=f"protocol {proto!r} is not supported")
    if isinstance(proto, str) and proto.isdigit():
        proto = int(proto)
    if isinstance(proto, int):
        if not 0 <= proto <= 255:
            raise exc.InvalidSecurityGroupRule(
                reason=f"protocol number {proto} is not between 0 and 255")
        number = proto
    elif isinstance(proto, str) and proto.lower() in PROTOCOLS:
        number = PROTOCOLS[proto.lower()]
    else:
        raise exc.InvalidSecurityGroupRule(reason=f"protocol {proto!r} is not supported")
    if number == 1 and rule.ethertype == IPV6:
        number = 58
    return number


def check_rule(rule: SecurityGroupRule) -> SecurityGroupRule:
    """Raise :class:`InvalidSecurityGroupRule` for a rule Neutron would refuse."""
    bad = exc.InvalidSecurityGroupRule
    if rule.direction not in (INGRESS, EGRESS):
        raise bad(reason=f"direction {rule.direction!r} must be 'ingress' or 'egress'")
    if rule.ethertype not in (IPV4, IPV6):
        raise bad(reason=f"ethertype {rule.ethertype!r} must be 'IPv4' or 'IPv6'")
    number = protocol_number(rule)
    if number == 58 and rule.ethertype == IPV4:
        raise bad(reason="protocol icmpv6 needs ethertype IPv6")
    low, high = rule.port_range_min, rule.port_range_max
    for value in (low, high):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad(reason=f"port range value {value!r} is not an integer")
    if number in PORT_PROTOCOLS:
        if (low is None) != (high is None):
            raise bad(reason="port_range_min and port_range_max must be given together")
        if low is not None:
            if not (1 <= low <= 65535 and 1 <= high <= 65535):
                raise bad(reason=f"port range {low}-{high} is not within 1-65535")
            if low > high:
                raise bad(reason=f"port_range_min {low} is greater than port_range_max {high}")
    elif number in ICMP_PROTOCOLS:
        if low is None and high is not None:
            raise bad(reason=f"ICMP code (port_range_max {high}) needs an ICMP type "
                             "(port_range_min)")
        for name, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise bad(reason=f"ICMP {name} {value} is not between 0 and 255")
    elif low is not None or high is not None:
        raise bad(reason=f"port ranges are only valid for TCP, UDP, SCTP, DCCP and UDP-Lite "
                         f"(protocol {rule.protocol!r})")
    if rule.remote_ip_prefix is not None and rule.remote_group_id is not None:
        raise bad(reason="only one of remote_ip_prefix and remote_group_id may be given")
    if rule.remote_ip_prefix is not None:
        net = _network(rule.remote_ip_prefix, rule.remote_ip_prefix, True,
                       lambda w, r: bad(reason=f"remote_ip_prefix {w} is not a CIDR without "
                                               f"host bits ({r})"))
        if (net.version == 4) != (rule.ethertype == IPV4):
            raise bad(reason=f"remote_ip_prefix {net} does not match ethertype {rule.ethertype}")
    if rule.remote_group_id is not None:
        check_id(rule.remote_group_id, "remote_group_id")
    return rule


def check_group(group: SecurityGroup) -> SecurityGroup:
    """Every rule valid and none a duplicate of another (:class:`SecurityGroupRuleExists`)."""
    check_id(group.id, "security_group_id")
    seen: dict[tuple, SecurityGroupRule] = {}
    for rule in group.rules:
        check_rule(rule)
        key = rule_key(rule)
        if key in seen:
            raise exc.SecurityGroupRuleExists(rule_id=seen[key].id or "(unsaved)")
        seen[key] = rule
    if group.members is not None:
        member_networks(group.members)
    return group


def rule_key(rule: SecurityGroupRule) -> tuple:
    """What makes two rules the same rule (Neutron's duplicate check)."""
    prefix = rule.remote_ip_prefix
    if prefix is not None:
        prefix = str(ipaddress.ip_network(prefix, strict=False))
    return (rule.direction, rule.ethertype, protocol_number(rule), rule.port_range_min,
            rule.port_range_max, prefix, rule.remote_group_id)


def member_networks(addresses: Iterable[str]) -> tuple[list, list]:
    """Collapsed IPv4 and IPv6 networks of a group's member addresses (IPs or CIDRs)."""
    v4, v6 = [], []
    for address in addresses:
        try:
            net = ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise exc.InvalidInput(field="members", reason=f"{address!r} is not an IP address "
                                                           "or a CIDR") from None
        (v4 if net.version == 4 else v6).append(net)
    return list(ipaddress.collapse_addresses(v4)), list(ipaddress.collapse_addresses(v6))


def member_addresses(ports: Iterable[PortSpec]) -> tuple[str, ...]:
    """The addresses that stand for ``ports`` in a group's membership set: fixed IPs and pairs."""
    out: list[str] = []
    for port in ports:
        out.extend(port.fixed_ips)
        out.extend(pair.ip_address for pair in port.allowed_address_pairs)
    return tuple(out)


# -- small renderers -----------------------------------------------------------------


def link_local(mac: str) -> ipaddress.IPv6Address:
    """The IPv6 link-local address a guest derives from its MAC (modified EUI-64)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui))


def _elements(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def _quote(name: str) -> str:
    return f'"{name}"'


def _v6_int(net: ipaddress.IPv6Network) -> str:
    """An IPv6 network as a 128-bit integer or range (for raw payload matches)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    return f"0x{first:032x}" if first == last else f"0x{first:032x}-0x{last:032x}"


def _sources(port: PortSpec) -> tuple[list[str], list[str], list[ipaddress.IPv6Network]]:
    """(mac . IPv4 elements, mac . IPv6 elements, own IPv6 networks) the port may send from."""
    by_mac: dict[str, list] = {port.mac.lower(): []}
    for ip in port.fixed_ips:
        by_mac[port.mac.lower()].append(ipaddress.ip_network(ip))
    for pair in port.allowed_address_pairs:
        mac = (pair.mac_address or port.mac).lower()
        by_mac.setdefault(mac, []).append(ipaddress.ip_network(pair.ip_address))
    v4, v6, own6 = [], [], []
    for mac, nets in by_mac.items():
        nets6 = [n for n in nets if n.version == 6] + [ipaddress.ip_network(link_local(mac))]
        for net in ipaddress.collapse_addresses(n for n in nets if n.version == 4):
            v4.append(f"{mac} . {net}")
        for net in ipaddress.collapse_addresses(nets6):
            v6.append(f"{mac} . {net}")
            own6.append(net)
    return v4, v6, list(ipaddress.collapse_addresses(own6))


def _macs(port: PortSpec) -> list[str]:
    macs = [port.mac.lower()]
    for pair in port.allowed_address_pairs:
        if pair.mac_address and pair.mac_address.lower() not in macs:
            macs.append(pair.mac_address.lower())
    return macs


def spoof_chain(device: str) -> str:
    return f"spoof_{device}"


def to_chain(device: str) -> str:
    return f"to_{device}"


def egress_chain(device: str) -> str:
    return f"eg_{device}"


def ingress_chain(device: str) -> str:
    return f"in_{device}"


def group_chain(group_id: str, direction: str) -> str:
    return f"sg_{group_id}_{'in' if direction == INGRESS else 'eg'}"


def member_set(group_id: str, version: int) -> str:
    return f"m{version}_{group_id}"


# -- the bridge table ---------------------------------------------------------------------


def bridge_skeleton(trusted: TrustedResponders) -> list[str]:
    """Commands that create (idempotently) the bridge table and refill its base chains."""
    t = f"bridge {BRIDGE_TABLE}"
    cmds = [
        f"add table {t}",
        f"add set {t} ports {{ type ifname; }}",
        f"add map {t} from_mark {{ type ifname : mark; }}",
        f"add map {t} to_port {{ type ifname : verdict; }}",
        f"add map {t} spoof {{ type ifname : verdict; }}",
        f"add chain {t} prerouting {{ type filter hook prerouting priority {PRIORITY}; "
        "policy accept; }",
        f"add chain {t} forward {{ type filter hook forward priority {PRIORITY}; "
        "policy accept; }",
        f"flush chain {t} prerouting",
        f"flush chain {t} forward",
        f"add rule {t} prerouting iifname vmap @spoof",
        # Frames into a filtered port from elsewhere start with a clean mark; frames
        # from a filtered port get its index in the upper half.
        f"add rule {t} forward oifname @ports iifname != @ports meta mark set 0",
        f"add rule {t} forward meta mark set iifname map @from_mark",
    ]
    trust = f"meta mark set meta mark or {TRUSTED_BIT:#010x}"
    if trusted.devices:
        cmds.append(f"add rule {t} forward oifname @ports iifname "
                    f"{_elements(_quote(d) for d in sorted(trusted.devices))} {trust}")
    for prefix in trusted.prefixes:
        cmds.append(f"add rule {t} forward oifname @ports iifname {_quote(prefix + '*')} {trust}")
    if trusted.macs:
        cmds.append(f"add rule {t} forward oifname @ports ether saddr "
                    f"{_elements(sorted(m.lower() for m in trusted.macs))} {trust}")
    cmds.append(f"add rule {t} forward oifname vmap @to_port")
    return cmds


def spoof_rules(port: PortSpec) -> list[str]:
    """The statements of a port's anti-spoofing chain (traffic the guest sends)."""
    v4, v6, own6 = _sources(port)
    rules = [
        f"ether saddr != {_elements(_macs(port))} drop",
        "ether type != { ip, ip6, arp } drop",
        # ARP: Ethernet/IPv4 only, requests and replies, claiming only own addresses
        # (0.0.0.0 is a probe: duplicate address detection).
        "arp htype != 1 drop",
        "arp ptype != ip drop",
        "arp hlen != 6 drop",
        "arp plen != 4 drop",
        "arp operation != { request, reply } drop",
        f"arp saddr ether . arp saddr ip != "
        f"{_elements(v4 + [f'{m} . 0.0.0.0' for m in _macs(port)])} drop",
        # IPv4: no DHCP server replies; DHCP discover/request from 0.0.0.0; else own sources.
        "ether type ip meta l4proto udp udp sport 67 drop",
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
    ]
    rules.append(f"ether saddr . ip saddr != {_elements(v4)} drop" if v4
                 else "ether type ip drop")
    rules += [
        # IPv6: no router advertisements, redirects or DHCPv6 server replies.
        "icmpv6 type { nd-router-advert, nd-redirect } drop",
        "ether type ip6 meta l4proto udp udp sport 547 drop",
        # The unspecified address only for duplicate address detection and MLD.
        "ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, "
        "mld2-listener-report } accept",
        f"ether saddr . ip6 saddr != {_elements(v6)} drop",
        # A neighbour advertisement may only announce the port's own addresses.
        f"icmpv6 type nd-neighbor-advert @th,64,128 != "
        f"{_elements(_v6_int(n) for n in own6)} drop",
    ]
    return rules


def bridge_port(port: PortSpec, index: int) -> list[str]:
    """Commands that (re)program a filtered port in the bridge table."""
    t = f"bridge {BRIDGE_TABLE}"
    dev = port.device
    spoof, to = spoof_chain(dev), to_chain(dev)
    cmds = [f"add chain {t} {spoof}", f"flush chain {t} {spoof}"]
    cmds += [f"add rule {t} {spoof} {rule}" for rule in spoof_rules(port)]
    cmds += [f"add chain {t} {to}", f"flush chain {t} {to}",
             f"add rule {t} {to} meta mark set meta mark or {index:#06x}"]
    cmds += [
        f"add element {t} ports {{ {_quote(dev)} }}",
        f"add element {t} from_mark {{ {_quote(dev)} : {index << FROM_SHIFT:#010x} }}",
        f"add element {t} to_port {{ {_quote(dev)} : jump {to} }}",
        f"add element {t} spoof {{ {_quote(dev)} : jump {spoof} }}",
    ]
    return cmds


def bridge_remove(device: str, index: int) -> list[str]:
    """Commands that remove a port from the bridge table whether or not it is there."""
    t = f"bridge {BRIDGE_TABLE}"
    q = _quote(device)
    spoof, to = spoof_chain(device), to_chain(device)
    elements = [("ports", q), ("from_mark", f"{q} : {index << FROM_SHIFT:#010x}"),
                ("to_port", f"{q} : jump {to}"), ("spoof", f"{q} : jump {spoof}")]
    cmds = [f"add chain {t} {spoof}", f"add chain {t} {to}"]
    for name, element in elements:
        cmds.append(f"add element {t} {name} {{ {element} }}")
    for name, _ in elements:
        cmds.append(f"delete element {t} {name} {{ {q} }}")
    for chain in (spoof, to):
        cmds += [f"flush chain {t} {chain}", f"delete chain {t} {chain}"]
    return cmds


# -- the inet table -------------------------------------------------------------------------


def inet_skeleton() -> list[str]:
    """Commands that create (idempotently) the inet table and refill its base chains."""
    t = f"inet {INET_TABLE}"
    low = MAX_PORT_INDEX
    high = MAX_PORT_INDEX << FROM_SHIFT
    return [
        f"add table {t}",
        f"add map {t} egress {{ type mark : verdict; }}",
        f"add map {t} ingress {{ type mark : verdict; }}",
        f"add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}",
        f"add chain {t} ingress_check",
        f"add chain {t} from_responder",
        f"flush chain {t} forward",
        f"flush chain {t} ingress_check",
        f"flush chain {t} from_responder",
        f"add rule {t} forward meta mark and {high | low:#010x} == 0 accept",
        f"add rule {t} forward ct state established,related accept",
        f"add rule {t} forward meta mark and {TRUSTED_BIT:#010x} != 0 jump from_responder",
        f"add rule {t} forward icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept",
        f"add rule {t} forward ct state invalid drop",
        f"add rule {t} forward meta mark and {high:#010x} vmap @egress",
        f"add rule {t} forward goto ingress_check",
        f"add rule {t} ingress_check meta mark and {low:#010x} vmap @ingress",
        f"add rule {t} ingress_check accept",
        f"add rule {t} from_responder udp sport 67 udp dport 68 accept",
        f"add rule {t} from_responder udp sport 547 udp dport 546 accept",
        f"add rule {t} from_responder icmpv6 type nd-router-advert accept",
    ]


def rule_statement(rule: SecurityGroupRule) -> str:
    """One group rule as an nft rule body (without its verdict)."""
    check_rule(rule)
    v4 = rule.ethertype == IPV4
    parts = ["meta nfproto " + ("ipv4" if v4 else "ipv6")]
    number = protocol_number(rule)
    if number is not None:
        parts.append(f"meta l4proto {number}")
        low, high = rule.port_range_min, rule.port_range_max
        if number in PORT_PROTOCOLS and low is not None:
            parts.append(f"th dport {low}" if low == high else f"th dport {low}-{high}")
        elif number in ICMP_PROTOCOLS and low is not None:
            kind = "icmp" if number == 1 else "icmpv6"
            parts.append(f"{kind} type {low}")
            if high is not None:
                parts.append(f"{kind} code {high}")
    addr = ("ip" if v4 else "ip6") + (" saddr" if rule.direction == INGRESS else " daddr")
    if rule.remote_ip_prefix is not None:
        parts.append(f"{addr} {ipaddress.ip_network(rule.remote_ip_prefix)}")
    elif rule.remote_group_id is not None:
        parts.append(f"{addr} @{member_set(rule.remote_group_id, 4 if v4 else 6)}")
    return " ".join(parts)


def referenced_groups(group: SecurityGroup) -> set[str]:
    """Ids of the groups whose membership sets the rules of ``group`` use."""
    return {r.remote_group_id for r in group.rules if r.remote_group_id is not None}


def inet_member_sets(group_id: str) -> list[str]:
    """Commands that create (idempotently) a group's membership sets."""
    t = f"inet {INET_TABLE}"
    return [f"add set {t} {member_set(group_id, 4)} {{ type ipv4_addr; flags interval; }}",
            f"add set {t} {member_set(group_id, 6)} {{ type ipv6_addr; flags interval; }}"]


def inet_members(group_id: str, addresses: Iterable[str]) -> list[str]:
    """Commands that replace a group's membership sets (atomically, within a transaction)."""
    t = f"inet {INET_TABLE}"
    v4, v6 = member_networks(addresses)
    cmds = inet_member_sets(group_id)
    for version, nets in ((4, v4), (6, v6)):
        name = member_set(group_id, version)
        cmds.append(f"flush set {t} {name}")
        for start in range(0, len(nets), 500):
            chunk = nets[start:start + 500]
            cmds.append(f"add element {t} {name} {_elements(str(n) for n in chunk)}")
    return cmds


def inet_group(group: SecurityGroup) -> list[str]:
    """Commands that (re)program a group's two chains (and create the sets they use)."""
    check_group(group)
    t = f"inet {INET_TABLE}"
    cmds = inet_member_sets(group.id)
    for remote in sorted(referenced_groups(group)):
        cmds += inet_member_sets(remote)
    for direction in (INGRESS, EGRESS):
        chain = group_chain(group.id, direction)
        verdict = "accept" if direction == INGRESS else "goto ingress_check"
        cmds += [f"add chain {t} {chain}", f"flush chain {t} {chain}"]
        for rule in group.rules:
            if rule.direction == direction:
                cmds.append(f"add rule {t} {chain} {rule_statement(rule)} {verdict}")
    if group.members is not None:
        cmds += inet_members(group.id, group.members)
    return cmds


def inet_group_remove(group_id: str, keep_sets: bool) -> list[str]:
    """Commands that remove a group's chains (and its sets unless other rules use them)."""
    t = f"inet {INET_TABLE}"
    cmds = []
    for direction in (INGRESS, EGRESS):
        chain = group_chain(group_id, direction)
        cmds += [f"add chain {t} {chain}", f"flush chain {t} {chain}",
                 f"delete chain {t} {chain}"]
    if not keep_sets:
        cmds += inet_member_sets(group_id)
        cmds += [f"delete set {t} {member_set(group_id, v)}" for v in (4, 6)]
    return cmds


def inet_port(port: PortSpec, index: int) -> list[str]:
    """Commands that (re)program a port's ingress and egress chains and its map entries."""
    t = f"inet {INET_TABLE}"
    eg, ing = egress_chain(port.device), ingress_chain(port.device)
    cmds = [f"add chain {t} {eg}", f"flush chain {t} {eg}",
            f"add chain {t} {ing}", f"flush chain {t} {ing}"]
    # A guest may always ask for an address and a router; the reply is checked on
    # the way back (from the trusted responder).
    cmds += [f"add rule {t} {eg} udp sport 68 udp dport 67 goto ingress_check",
             f"add rule {t} {eg} udp sport 546 udp dport 547 goto ingress_check",
             f"add rule {t} {eg} icmpv6 type nd-router-solicit goto ingress_check"]
    for gid in port.security_groups:
        # A group not (yet) programmed on this host allows nothing until it is.
        cmds += [f"add chain {t} {group_chain(gid, d)}" for d in (INGRESS, EGRESS)]
        cmds.append(f"add rule {t} {eg} jump {group_chain(gid, EGRESS)}")
        cmds.append(f"add rule {t} {ing} jump {group_chain(gid, INGRESS)}")
    cmds += [f"add rule {t} {eg} drop", f"add rule {t} {ing} drop"]
    cmds += [f"add element {t} egress {{ {index << FROM_SHIFT:#010x} : jump {eg} }}",
             f"add element {t} ingress {{ {index:#010x} : jump {ing} }}"]
    return cmds


def inet_remove(device: str, index: int) -> list[str]:
    """Commands that remove a port from the inet table whether or not it is there."""
    t = f"inet {INET_TABLE}"
    eg, ing = egress_chain(device), ingress_chain(device)
    cmds = [f"add chain {t} {eg}", f"add chain {t} {ing}",
            f"add element {t} egress {{ {index << FROM_SHIFT:#010x} : jump {eg} }}",
            f"add element {t} ingress {{ {index:#010x} : jump {ing} }}",
            f"delete element {t} egress {{ {index << FROM_SHIFT:#010x} }}",
            f"delete element {t} ingress {{ {index:#010x} }}"]
    for chain in (eg, ing):
        cmds += [f"flush chain {t} {chain}", f"delete chain {t} {chain}"]
    return cmds


def full_ruleset(ports: Sequence[tuple[PortSpec, int]], groups: Sequence[SecurityGroup],
                 trusted: TrustedResponders) -> list[str]:
    """Commands that replace both tables with exactly the given state (one transaction)."""
    cmds = [f"add table bridge {BRIDGE_TABLE}", f"delete table bridge {BRIDGE_TABLE}",
            f"add table inet {INET_TABLE}", f"delete table inet {INET_TABLE}"]
    cmds += bridge_skeleton(trusted) + inet_skeleton()
    for group in groups:
        cmds += inet_group(group)
    for port, index in ports:
        if port.port_security_enabled:
            cmds += bridge_port(port, index) + inet_port(port, index)
    return cmds


def script(commands: Iterable[str]) -> str:
    """The text ``nft -f -`` reads: one command a line, applied as one transaction."""
    return "\n".join(commands) + "\n"
