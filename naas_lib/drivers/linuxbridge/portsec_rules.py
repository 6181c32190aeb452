"""Port security and security groups as nftables script text (pure: no I/O).

The inputs are small frozen dataclasses (a port, a security group and its
rules, the host's trusted DHCP/RA responders); the outputs are ``nft -f``
script fragments. :mod:`naas_lib.drivers.linuxbridge.portsec` strings them
into one transaction per change and runs it.

Two tables, owned by this module and nothing else:

``bridge naas_portsec``
    Stateless anti-spoofing. One ``spoof`` chain for every port, reached from a
    ``prerouting`` chain (priority -300) for frames whose ``iifname`` is in the
    ``ports`` set; what a port may send lives in sets keyed by its device
    (``macs``; single addresses in the hash sets ``src4h``, ``src6h``, ``na6h``,
    CIDR pairs in the interval sets ``src4``, ``src6``, ``na6``). Hash sets keep
    a plug's kernel cost flat; interval sets with a concatenated key cost
    the kernel a copy of the whole set per change, so they hold only the
    rare CIDR pairs. The same chains set the packet
    mark that names the filtered port a frame comes from (``from_mark``, in
    prerouting) or goes to (``to_mark``, in ``forward`` at priority -300).
    Plugging a port adds set elements only.

``inet naas_sg``
    Stateful security groups, which bridged IP traffic reaches when the host
    sets ``net.bridge.bridge-nf-call-iptables`` and ``...-ip6tables`` to 1 (this
    kernel has no conntrack in the bridge family). Interface names there are the
    bridge's, so ports are known by the mark: the ``prerouting`` chain checks
    what a port sends (``egress`` verdict map: mark -> its groups' chain), the
    ``forward`` chain what reaches it (``ingress``). A port in one group jumps
    to the group's chain ``sg_<id>_eg``/``sg_<id>_in``; a port in several to a
    chain ``sgs_<digest>_eg``/``_in`` shared by every port with the same groups,
    which jumps to each; a port in none has no element (what no group accepts
    is dropped by the base chain). So a port adds no chain or rule: plugging
    one is two map elements, and nft's cache of the table stays small. A
    group's members are the hash sets ``h4_<id>``/``h6_<id>`` (single addresses)
    and the interval sets ``m4_<id>``/``m6_<id>`` (CIDR members, collapsed).
    nft reads every interval set of a table before it changes any element
    there, so single addresses stay out of them.

Mark layout (``meta mark`` of frames that enter or leave a filtered port; other
frames keep theirs):

* bits 0-15: the port's index (1..65535), kept for the device's lifetime and
  recorded in ``from_mark``, so a new process recovers it from the kernel;
* bit 28 (``FROM_FLAG``): the frame comes from that port (egress rules);
* bit 29 (``TO_FLAG``): the frame goes to that port (ingress rules);
* bit 31: the frame comes from a trusted responder (DHCP server, RA sender).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from naas_lib import exceptions as exc

BRIDGE_TABLE = "naas_portsec"
INET_TABLE = "naas_sg"
MAX_PORT_INDEX = 0xFFFF
FROM_FLAG = 0x10000000
TO_FLAG = 0x20000000
TRUSTED_BIT = 0x80000000
PRIORITY = -300
#: Bridge-table chain that checks the target of a neighbour advertisement.
NA_CHAIN = "na_target"

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
    if not isinstance(port.fixed_ips, (tuple, list)) or not isinstance(
            port.allowed_address_pairs, (tuple, list)) or not isinstance(
            port.security_groups, (tuple, list)):
        raise exc.InvalidInput(field="port", reason="fixed_ips, allowed_address_pairs and "
                                                    "security_groups must be lists")
    if not isinstance(port.port_security_enabled, bool):
        raise exc.InvalidInput(field="port_security_enabled", reason="true or false expected")
    for ip in port.fixed_ips:
        try:
            if not isinstance(ip, str):
                raise ValueError(ip)
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
        if not isinstance(pair, AddressPair):
            raise exc.InvalidAllowedAddressPair(pair=repr(pair), reason="not an address pair")
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
        if not isinstance(rule.remote_ip_prefix, str):
            raise bad(reason=f"remote_ip_prefix {rule.remote_ip_prefix!r} is not a CIDR")
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
        if not isinstance(rule, SecurityGroupRule):
            raise exc.InvalidSecurityGroupRule(reason=f"{rule!r} is not a rule")
        check_rule(rule)
        key = rule_key(rule)
        if key in seen:
            raise exc.SecurityGroupRuleExists(rule_id=seen[key].id or "(unsaved)")
        seen[key] = rule
    if group.members is not None:
        if not isinstance(group.members, (tuple, list)):
            raise exc.InvalidInput(field="members", reason="a list of addresses is expected")
        member_networks(group.members)
    return group


def rule_key(rule: SecurityGroupRule) -> tuple:
    """What makes two rules the same rule (Neutron's duplicate check)."""
    prefix = rule.remote_ip_prefix
    if prefix is not None:
        prefix = str(ipaddress.ip_network(prefix, strict=False))
    return (rule.direction, rule.ethertype, protocol_number(rule), rule.port_range_min,
            rule.port_range_max, prefix, rule.remote_group_id)


def _member_network(address: str) -> ipaddress._BaseNetwork:
    try:
        if not isinstance(address, str):
            raise ValueError(address)
        return ipaddress.ip_network(address, strict=False)
    except ValueError:
        raise exc.InvalidInput(field="members", reason=f"{address!r} is not an IP address "
                                                       "or a CIDR") from None


def member_networks(addresses: Iterable[str]) -> tuple[list, list]:
    """Collapsed IPv4 and IPv6 networks of a group's member addresses (IPs or CIDRs)."""
    v4, v6 = [], []
    for address in addresses:
        net = _member_network(address)
        (v4 if net.version == 4 else v6).append(net)
    return list(ipaddress.collapse_addresses(v4)), list(ipaddress.collapse_addresses(v6))


@dataclass(frozen=True)
class Members:
    """A group's membership as the kernel holds it.

    ``parsed`` maps each given address to (IP version, element text or None for
    a CIDR, network), so the next change parses only the addresses that are new.
    """

    parsed: dict[str, tuple[int, str | None, ipaddress._BaseNetwork]]
    hosts4: frozenset[str]
    hosts6: frozenset[str]
    nets4: tuple[ipaddress.IPv4Network, ...]
    nets6: tuple[ipaddress.IPv6Network, ...]


def members_of(addresses: Iterable[str], known: Members | None = None) -> Members:
    """Parse (or reuse from ``known``) member addresses; InvalidInput for a bad one.

    Single addresses become hash-set elements as they are; CIDRs are collapsed
    (an interval set refuses overlapping elements).
    """
    old = known.parsed if known is not None else {}
    if known is not None and not isinstance(addresses, (str, bytes)):
        addresses = tuple(addresses)
        # ``parsed`` keeps the order it was given in: a membership that only
        # appended (a plug joined) is checked and parsed for what it appended.
        if len(addresses) >= len(old) and addresses[:len(old)] == tuple(old):
            return members_added(known, addresses[len(old):])
        if all(isinstance(a, str) for a in addresses):
            wanted = set(addresses)
            if wanted.issuperset(old):
                return members_added(known, wanted.difference(old))
    parsed: dict[str, tuple[int, str | None, ipaddress._BaseNetwork]] = {}
    for address in addresses:
        entry = old.get(address) if isinstance(address, str) else None
        if entry is None:
            entry = _member_entry(address)
        parsed[address] = entry
    hosts4 = frozenset(t for v, t, _ in parsed.values() if t is not None and v == 4)
    hosts6 = frozenset(t for v, t, _ in parsed.values() if t is not None and v == 6)
    cidrs = [(v, n) for v, t, n in parsed.values() if t is None]
    nets4 = tuple(ipaddress.collapse_addresses(n for v, n in cidrs if v == 4))
    nets6 = tuple(ipaddress.collapse_addresses(n for v, n in cidrs if v == 6))
    return Members(parsed, hosts4, hosts6, nets4, nets6)


def _member_entry(address: str) -> tuple[int, str | None, ipaddress._BaseNetwork]:
    net = _member_network(address)
    host = net.prefixlen == net.max_prefixlen
    return net.version, str(net.network_address) if host else None, net


def members_added(known: Members, added: Iterable[str]) -> Members:
    """``known`` plus ``added`` addresses, parsing only the new ones (a plug adds one
    port's); InvalidInput for a bad one."""
    entries = {address: _member_entry(address) for address in added
               if not isinstance(address, str) or address not in known.parsed}
    if not entries:
        return known
    parsed = {**known.parsed, **entries}
    hosts4 = known.hosts4.union(t for v, t, _ in entries.values() if t is not None and v == 4)
    hosts6 = known.hosts6.union(t for v, t, _ in entries.values() if t is not None and v == 6)
    nets4, nets6 = known.nets4, known.nets6
    if any(t is None for _, t, _ in entries.values()):  # a CIDR: collapse them all again
        cidrs = [(v, n) for v, t, n in parsed.values() if t is None]
        nets4 = tuple(ipaddress.collapse_addresses(n for v, n in cidrs if v == 4))
        nets6 = tuple(ipaddress.collapse_addresses(n for v, n in cidrs if v == 6))
    return Members(parsed, hosts4, hosts6, nets4, nets6)


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


def _macs(port: PortSpec) -> list[str]:
    macs = [port.mac.lower()]
    for pair in port.allowed_address_pairs:
        if pair.mac_address and pair.mac_address.lower() not in macs:
            macs.append(pair.mac_address.lower())
    return macs


def port_elements(port: PortSpec, index: int) -> dict[str, list[str]]:
    """The set and map elements that program one port in the bridge table, by set name.

    Per-port state is only elements: the chains are the same for every port, so
    plugging a port never adds a rule there.
    """
    q = _quote(port.device)
    simple = _single_addresses(port)
    if simple is not None:  # the usual port: no pairs, one address per family at most
        mac = port.mac.lower()
        v4, v6 = simple
        own6 = [v6, link_local(mac)] if v6 is not None else [link_local(mac)]
        own6.sort()
        return {
            "ports": [q],
            "from_mark": [f"{q} : {FROM_FLAG | index:#010x}"],
            "to_mark": [f"{q} : {TO_FLAG | index:#010x}"],
            "macs": [f"{q} . {mac}"],
            "src4h": [f"{q} . {mac} . {v4}"] if v4 is not None else [],
            "src4": [],
            "src6h": [f"{q} . {mac} . {a}" for a in own6],
            "src6": [],
            "na6h": [f"{q} . 0x{int(a):032x}" for a in own6],
            "na6": [],
        }
    by_mac: dict[str, list] = {port.mac.lower(): []}
    for ip in port.fixed_ips:
        by_mac[port.mac.lower()].append(ipaddress.ip_network(ip))
    for pair in port.allowed_address_pairs:
        mac = (pair.mac_address or port.mac).lower()
        by_mac.setdefault(mac, []).append(ipaddress.ip_network(pair.ip_address))
    src4, src6, own6 = [], [], []
    src4h, src6h = [], []
    for mac, nets in by_mac.items():
        nets6 = [n for n in nets if n.version == 6] + [ipaddress.ip_network(link_local(mac))]
        for net in ipaddress.collapse_addresses(n for n in nets if n.version == 4):
            if net.prefixlen == 32:
                src4h.append(f"{q} . {mac} . {net.network_address}")
            else:
                src4.append(f"{q} . {mac} . {net}")
        for net in ipaddress.collapse_addresses(nets6):
            if net.prefixlen == 128:
                src6h.append(f"{q} . {mac} . {net.network_address}")
            else:
                src6.append(f"{q} . {mac} . {net}")
            own6.append(net)
    targets = list(ipaddress.collapse_addresses(own6))
    return {
        "ports": [q],
        "from_mark": [f"{q} : {FROM_FLAG | index:#010x}"],
        "to_mark": [f"{q} : {TO_FLAG | index:#010x}"],
        "macs": [f"{q} . {mac}" for mac in _macs(port)],
        "src4h": src4h,
        "src4": src4,
        "src6h": src6h,
        "src6": src6,
        "na6h": [f"{q} . {_v6_int(n)}" for n in targets if n.prefixlen == 128],
        "na6": [f"{q} . {_v6_int(n)}" for n in targets if n.prefixlen < 128],
    }


def _single_addresses(port: PortSpec
                      ) -> tuple[ipaddress.IPv4Address | None, ipaddress.IPv6Address | None] | None:
    """(IPv4, IPv6) of a port without pairs and with at most one fixed IP per family
    whose IPv6 one cannot merge with its link-local address; None for any other port
    (the general path collapses its addresses)."""
    if port.allowed_address_pairs or len(port.fixed_ips) > 2:
        return None
    v4 = v6 = None
    for ip in port.fixed_ips:
        address = ipaddress.ip_address(ip)
        if address.version == 4 and v4 is None:
            v4 = address
        elif address.version == 6 and v6 is None:
            v6 = address
        else:
            return None
    if v6 is not None and abs(int(v6) - int(link_local(port.mac.lower()))) <= 1:
        return None
    return v4, v6


def element_key(set_name: str, element: str) -> str:
    """The part of an element ``delete element`` needs (maps: the key only)."""
    return element.split(" : ")[0] if set_name in ("from_mark", "to_mark") else element


def groups_chain(group_ids: Sequence[str], direction: str) -> str | None:
    """The chain a port in ``group_ids`` jumps to for ``direction`` (None: no group)."""
    ids = sorted(set(group_ids))
    if not ids:
        return None
    if len(ids) == 1:
        return group_chain(ids[0], direction)
    digest = hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]
    return f"sgs_{digest}_{'in' if direction == INGRESS else 'eg'}"


def port_verdicts(port: PortSpec) -> tuple[str | None, str | None]:
    """The (egress, ingress) chains the port's map elements jump to."""
    return (groups_chain(port.security_groups, EGRESS),
            groups_chain(port.security_groups, INGRESS))


def group_chain(group_id: str, direction: str) -> str:
    return f"sg_{group_id}_{'in' if direction == INGRESS else 'eg'}"


def member_set(group_id: str, version: int) -> str:
    """A group's CIDR members (interval set)."""
    return f"m{version}_{group_id}"


def host_set(group_id: str, version: int) -> str:
    """A group's single-address members (hash set)."""
    return f"h{version}_{group_id}"


# -- the bridge table ---------------------------------------------------------------------


#: Anti-spoofing, the same for every port: what differs is in the sets.
SPOOF_RULES = (
    "iifname . ether saddr != @macs drop",
    "ether type != { ip, ip6, arp } drop",
    # ARP: Ethernet/IPv4 only, requests and replies, claiming only the port's own
    # addresses; 0.0.0.0 is a probe (duplicate address detection) from an own MAC.
    "arp htype != 1 drop",
    "arp ptype != ip drop",
    "arp hlen != 6 drop",
    "arp plen != 4 drop",
    "arp operation != { request, reply } drop",
    "arp saddr ip 0.0.0.0 iifname . arp saddr ether @macs return",
    # Own single addresses (hash set) pass; else only an own CIDR pair (interval set).
    "iifname . arp saddr ether . arp saddr ip @src4h return",
    "iifname . arp saddr ether . arp saddr ip != @src4 drop",
    # IPv4: no DHCP server replies; DHCP discover/request from 0.0.0.0; else own sources.
    "ether type ip meta l4proto udp udp sport 67 drop",
    "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return",
    "ether type ip iifname . ether saddr . ip saddr @src4h return",
    "ether type ip iifname . ether saddr . ip saddr != @src4 drop",
    # IPv6: no router advertisements, redirects or DHCPv6 server replies.
    "icmpv6 type { nd-router-advert, nd-redirect } drop",
    "ether type ip6 meta l4proto udp udp sport 547 drop",
    # A neighbour advertisement may only announce the port's own addresses.
    f"icmpv6 type nd-neighbor-advert jump {NA_CHAIN}",
    # The unspecified address only for duplicate address detection and MLD.
    "ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, "
    "mld2-listener-report } return",
    "ether type ip6 iifname . ether saddr . ip6 saddr @src6h return",
    "ether type ip6 iifname . ether saddr . ip6 saddr != @src6 drop",
)

#: The target of a neighbour advertisement: an own single address or an own CIDR pair.
NA_RULES = (
    "iifname . @th,64,128 @na6h return",
    "iifname . @th,64,128 != @na6 drop",
)


def bridge_skeleton(trusted: TrustedResponders) -> list[str]:
    """Commands that create (idempotently) the bridge table and refill its chains."""
    t = f"bridge {BRIDGE_TABLE}"
    cmds = [
        f"add table {t}",
        f"add set {t} ports {{ type ifname; }}",
        f"add map {t} from_mark {{ type ifname : mark; }}",
        f"add map {t} to_mark {{ type ifname : mark; }}",
        f"add set {t} macs {{ type ifname . ether_addr; }}",
        f"add set {t} src4h {{ type ifname . ether_addr . ipv4_addr; }}",
        f"add set {t} src6h {{ type ifname . ether_addr . ipv6_addr; }}",
        f"add set {t} na6h {{ typeof iifname . @th,64,128; }}",
        f"add set {t} src4 {{ type ifname . ether_addr . ipv4_addr; flags interval; }}",
        f"add set {t} src6 {{ type ifname . ether_addr . ipv6_addr; flags interval; }}",
        f"add set {t} na6 {{ typeof iifname . @th,64,128; flags interval; }}",
        f"add chain {t} prerouting {{ type filter hook prerouting priority {PRIORITY}; "
        "policy accept; }",
        f"add chain {t} forward {{ type filter hook forward priority {PRIORITY}; "
        "policy accept; }",
        f"add chain {t} spoof",
        f"add chain {t} {NA_CHAIN}",
        f"flush chain {t} prerouting",
        f"flush chain {t} forward",
        f"flush chain {t} spoof",
        f"flush chain {t} {NA_CHAIN}",
        # Frames from a filtered port: anti-spoofing, then the port's "from" mark
        # (read by the egress rules in the inet prerouting hook).
        f"add rule {t} prerouting iifname @ports jump spoof",
        f"add rule {t} prerouting iifname @ports meta mark set iifname map @from_mark",
        # Frames to a filtered port: its "to" mark (read by the ingress rules in the
        # inet forward hook), plus a flag when they come from a trusted responder.
        f"add rule {t} forward oifname @ports meta mark set oifname map @to_mark",
    ]
    cmds += [f"add rule {t} {NA_CHAIN} {rule}" for rule in NA_RULES]
    cmds += [f"add rule {t} spoof {rule}" for rule in SPOOF_RULES]
    trust = f"meta mark set meta mark or {TRUSTED_BIT:#010x}"
    if trusted.devices:
        cmds.append(f"add rule {t} forward oifname @ports iifname "
                    f"{_elements(_quote(d) for d in sorted(trusted.devices))} {trust}")
    for prefix in trusted.prefixes:
        cmds.append(f"add rule {t} forward oifname @ports iifname {_quote(prefix + '*')} {trust}")
    if trusted.macs:
        cmds.append(f"add rule {t} forward oifname @ports ether saddr "
                    f"{_elements(sorted(m.lower() for m in trusted.macs))} {trust}")
    return cmds


def bridge_elements(add: dict[str, list[str]], delete: dict[str, list[str]]) -> list[str]:
    """Commands that delete and add bridge-table elements (deletions first)."""
    t = f"bridge {BRIDGE_TABLE}"
    cmds = []
    for name, elements in delete.items():
        if elements:
            keys = [element_key(name, e) for e in elements]
            cmds.append(f"delete element {t} {name} {_elements(keys)}")
    for name, elements in add.items():
        if elements:
            cmds.append(f"add element {t} {name} {_elements(elements)}")
    return cmds


# -- the inet table -------------------------------------------------------------------------


def inet_skeleton() -> list[str]:
    """Commands that create (idempotently) the inet table and refill its base chains."""
    t = f"inet {INET_TABLE}"
    flags = 0x70000000
    return [
        f"add table {t}",
        f"add map {t} egress {{ type mark : verdict; }}",
        f"add map {t} ingress {{ type mark : verdict; }}",
        f"add chain {t} prerouting {{ type filter hook prerouting priority filter; "
        "policy accept; }",
        f"add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}",
        f"add chain {t} from_responder",
        f"flush chain {t} prerouting",
        f"flush chain {t} forward",
        f"flush chain {t} from_responder",
        # Egress: what a filtered port sends, checked where conntrack already ran.
        f"add rule {t} prerouting meta mark and {flags:#010x} != {FROM_FLAG:#010x} accept",
        f"add rule {t} prerouting ct state established,related accept",
        # A guest may always resolve neighbours and ask for an address and a router.
        f"add rule {t} prerouting icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert, "
        "nd-router-solicit } accept",
        f"add rule {t} prerouting udp sport 68 udp dport 67 accept",
        f"add rule {t} prerouting udp sport 546 udp dport 547 accept",
        f"add rule {t} prerouting ct state invalid drop",
        f"add rule {t} prerouting meta mark vmap @egress",
        f"add rule {t} prerouting drop",
        # Ingress: what reaches a filtered port.
        f"add rule {t} forward meta mark and {flags:#010x} != {TO_FLAG:#010x} accept",
        f"add rule {t} forward ct state established,related accept",
        f"add rule {t} forward meta mark and {TRUSTED_BIT:#010x} != 0 jump from_responder",
        f"add rule {t} forward icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept",
        f"add rule {t} forward ct state invalid drop",
        f"add rule {t} forward meta mark and {~TRUSTED_BIT & 0xFFFFFFFF:#010x} vmap @ingress",
        f"add rule {t} forward drop",
        f"add rule {t} from_responder udp sport 67 udp dport 68 accept",
        f"add rule {t} from_responder udp sport 547 udp dport 546 accept",
        f"add rule {t} from_responder icmpv6 type nd-router-advert accept",
    ]


def rule_statements(rule: SecurityGroupRule) -> list[str]:
    """One group rule as nft rule bodies (without their verdict).

    A rule naming a remote group is two: one per membership set (single
    addresses, CIDRs); both accept, so a packet matching either is allowed.
    """
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
        version = 4 if v4 else 6
        body = " ".join(parts)
        return [f"{body} {addr} @{host_set(rule.remote_group_id, version)}",
                f"{body} {addr} @{member_set(rule.remote_group_id, version)}"]
    return [" ".join(parts)]


def referenced_groups(group: SecurityGroup) -> set[str]:
    """Ids of the groups whose membership sets the rules of ``group`` use."""
    return {r.remote_group_id for r in group.rules if r.remote_group_id is not None}


def inet_member_sets(group_id: str) -> list[str]:
    """Commands that create (idempotently) a group's membership sets."""
    t = f"inet {INET_TABLE}"
    return [f"add set {t} {host_set(group_id, 4)} {{ type ipv4_addr; }}",
            f"add set {t} {host_set(group_id, 6)} {{ type ipv6_addr; }}",
            f"add set {t} {member_set(group_id, 4)} {{ type ipv4_addr; flags interval; }}",
            f"add set {t} {member_set(group_id, 6)} {{ type ipv6_addr; flags interval; }}"]


def inet_members(group_id: str, addresses: Iterable[str],
                 previous: Iterable[str] | None = None) -> list[str]:
    """Commands that change a group's membership sets to ``addresses``.

    With the ``previous`` addresses known, only the difference is deleted and
    added; without, the sets are flushed and refilled. Either way inside the
    caller's one transaction.
    """
    old = None if previous is None else members_of(previous)
    return inet_member_changes(group_id, members_of(addresses), old)


def _chunked(verb: str, name: str, items: Sequence[str]) -> list[str]:
    t = f"inet {INET_TABLE}"
    return [f"{verb} element {t} {name} {_elements(items[i:i + 500])}"
            for i in range(0, len(items), 500)]


def inet_member_changes(group_id: str, new: Members, old: Members | None,
                        create_sets: bool = True) -> list[str]:
    """:func:`inet_members` on memberships already parsed (:func:`members_of`).

    ``create_sets`` False leaves out the (idempotent) creation of the sets, for
    a group whose sets the caller knows are there.
    """
    t = f"inet {INET_TABLE}"
    cmds = inet_member_sets(group_id) if create_sets or old is None else []
    for version in (4, 6):
        hosts = new.hosts4 if version == 4 else new.hosts6
        nets = new.nets4 if version == 4 else new.nets6
        hname, nname = host_set(group_id, version), member_set(group_id, version)
        if old is None:
            cmds += [f"flush set {t} {hname}", f"flush set {t} {nname}"]
            cmds += _chunked("add", hname, sorted(hosts))
            cmds += _chunked("add", nname, [str(n) for n in nets])
            continue
        before_hosts = old.hosts4 if version == 4 else old.hosts6
        before_nets = old.nets4 if version == 4 else old.nets6
        cmds += _chunked("delete", hname, sorted(before_hosts - hosts))
        cmds += _chunked("add", hname, sorted(hosts - before_hosts))
        if nets != before_nets:  # both collapsed: no interval overlaps another
            cmds += _chunked("delete", nname, [str(n) for n in sorted(set(before_nets)
                                                                      - set(nets))])
            cmds += _chunked("add", nname, [str(n) for n in sorted(set(nets)
                                                                   - set(before_nets))])
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
        cmds += [f"add chain {t} {chain}", f"flush chain {t} {chain}"]
        for rule in group.rules:
            if rule.direction == direction:
                cmds += [f"add rule {t} {chain} {body} accept"
                         for body in rule_statements(rule)]
    if group.members is not None:
        cmds += inet_members(group.id, group.members)
    return cmds


def _verdict_elements(index: int, verdicts: tuple[str | None, str | None],
                      previous: tuple[str | None, str | None]) -> list[str]:
    """Delete the port's map elements that change, add the new ones (maps refuse a
    new value for a key that is there)."""
    t = f"inet {INET_TABLE}"
    cmds = []
    for name, flag, target, before in (("egress", FROM_FLAG, verdicts[0], previous[0]),
                                       ("ingress", TO_FLAG, verdicts[1], previous[1])):
        if target == before:
            continue
        if before is not None:
            cmds.append(f"delete element {t} {name} {{ {flag | index:#010x} }}")
        if target is not None:
            cmds.append(f"add element {t} {name} {{ {flag | index:#010x} : jump {target} }}")
    return cmds


def inet_port(port: PortSpec, index: int,
              previous: tuple[str | None, str | None] = (None, None),
              programmed: Collection[str] = ()) -> list[str]:
    """Commands that point a port's map elements at its groups' chains.

    ``previous`` is what its elements jump to now (None: no element). The chains
    of a group not in ``programmed`` are created if missing (empty: it allows
    nothing until programmed); a port in several groups shares a chain with
    every port in the same groups.
    """
    t = f"inet {INET_TABLE}"
    cmds = []
    groups = sorted(set(port.security_groups))
    for gid in groups:
        if gid not in programmed:
            cmds += [f"add chain {t} {group_chain(gid, d)}" for d in (INGRESS, EGRESS)]
    verdicts = port_verdicts(port)
    if len(groups) > 1:
        for direction, chain in ((EGRESS, verdicts[0]), (INGRESS, verdicts[1])):
            cmds += [f"add chain {t} {chain}", f"flush chain {t} {chain}"]
            cmds += [f"add rule {t} {chain} jump {group_chain(gid, direction)}"
                     for gid in groups]
    return cmds + _verdict_elements(index, verdicts, previous)


def inet_remove(index: int, previous: tuple[str | None, str | None]) -> list[str]:
    """Commands that remove a port's map elements (``previous``: what they jump to)."""
    return _verdict_elements(index, (None, None), previous)


def drop_tables() -> list[str]:
    """Commands that delete both tables, whether they exist or not (each is made first)."""
    return [f"add table bridge {BRIDGE_TABLE}", f"delete table bridge {BRIDGE_TABLE}",
            f"add table inet {INET_TABLE}", f"delete table inet {INET_TABLE}"]


def full_ruleset(ports: Sequence[tuple[PortSpec, int]], groups: Sequence[SecurityGroup],
                 trusted: TrustedResponders) -> list[str]:
    """Commands that replace both tables with exactly the given state (one transaction)."""
    cmds = drop_tables() + bridge_skeleton(trusted) + inet_skeleton()
    for group in groups:
        cmds += inet_group(group)
    elements: dict[str, list[str]] = {}
    for port, index in ports:
        if port.port_security_enabled:
            for name, items in port_elements(port, index).items():
                elements.setdefault(name, []).extend(items)
            cmds += inet_port(port, index)
    cmds += bridge_elements(elements, {})
    return cmds


def script(commands: Iterable[str]) -> str:
    """The text ``nft -f -`` reads: one command a line, applied as one transaction."""
    return "\n".join(commands) + "\n"
