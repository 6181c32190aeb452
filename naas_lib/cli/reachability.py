"""What the ports' security groups allow a ping to do, for ``naas check``.

``naas check`` pings between namespace guests; with port security a pair the
groups do not allow must not answer, and that is no failure. :class:`GroupPolicy`
answers, from the groups' rules and members as the service has them, whether an
ICMP echo request from one port to an address of another is allowed: the
source's groups must let it out (egress) and the target's groups let it in
(ingress); the reply is a reply of an allowed connection (the groups are
stateful). A port with port security off filters nothing.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from naas_lib import objects
from naas_lib.context import RequestContext

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

#: ICMP echo request type by IP version (ICMP, ICMPv6).
ECHO_REQUEST = {4: 8, 6: 128}
#: Protocol names and numbers a rule may give for ICMP, by IP version.
_ICMP = {4: {"icmp", "1"}, 6: {"icmp", "icmpv6", "ipv6-icmp", "58"}}

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _net(text: str) -> _Net:
    return ipaddress.ip_network(text, strict=False)


@dataclasses.dataclass(frozen=True)
class GroupPolicy:
    """The rules of the visible groups, their members' addresses and the ports' groups."""

    rules: dict[str, tuple[objects.SecurityGroupRule, ...]]
    members: dict[str, tuple[_Net, ...]]
    ports: dict[str, objects.Port]

    @classmethod
    def of(cls, service: NetworkService, context: RequestContext) -> GroupPolicy:
        """The policy as the caller sees it (an admin: every project's)."""
        ports = service.list_ports(context)
        return cls.build(service.list_security_groups(context), ports)

    @classmethod
    def build(cls, groups: Iterable[objects.SecurityGroup],
              ports: Iterable[objects.Port]) -> GroupPolicy:
        members: dict[str, list[_Net]] = defaultdict(list)
        by_id = {}
        for port in ports:
            by_id[port.id] = port
            if not port.port_security_enabled:
                continue
            addresses = [_net(f.ip_address) for f in port.fixed_ips]
            addresses += [_net(p.ip_address) for p in port.allowed_address_pairs]
            for gid in port.security_groups:
                members[gid].extend(addresses)
        return cls(rules={g.id: tuple(g.security_group_rules) for g in groups},
                   members={g: tuple(a) for g, a in members.items()}, ports=by_id)

    def allows(self, source_id: str, target_id: str, address: str) -> bool:
        """Whether the groups let ``source`` ping ``address`` of ``target``."""
        source, target = self.ports.get(source_id), self.ports.get(target_id)
        if source is None or target is None:
            return True  # not a port the caller may see: nothing known to filter
        version = ipaddress.ip_address(address).version
        ours = [_net(f.ip_address) for f in source.fixed_ips
                if ipaddress.ip_address(f.ip_address).version == version]
        return (self._lets(source, "egress", version, [_net(address)])
                and self._lets(target, "ingress", version, ours))

    def _lets(self, port: objects.Port, direction: str, version: int,
              peers: list[_Net]) -> bool:
        if not port.port_security_enabled:
            return True
        return any(self._matches(rule, direction, version, peers)
                   for gid in port.security_groups for rule in self.rules.get(gid, ()))

    def _matches(self, rule: objects.SecurityGroupRule, direction: str, version: int,
                 peers: list[_Net]) -> bool:
        if rule.direction != direction or rule.ethertype != f"IPv{version}":
            return False
        protocol = None if rule.protocol is None else str(rule.protocol).lower()
        if protocol not in (None, "", "any"):
            if protocol not in _ICMP[version]:
                return False  # another protocol: not a ping
            if rule.port_range_min is not None and rule.port_range_min != ECHO_REQUEST[version]:
                return False
            if rule.port_range_max is not None and rule.port_range_max != 0:
                return False
        if rule.remote_ip_prefix is not None:
            prefix = _net(rule.remote_ip_prefix)
            return any(p.version == prefix.version and p.subnet_of(prefix) for p in peers)
        if rule.remote_group_id is not None:
            members = self.members.get(rule.remote_group_id, ())
            return any(p.version == m.version and p.subnet_of(m)
                       for p in peers for m in members)
        return True
