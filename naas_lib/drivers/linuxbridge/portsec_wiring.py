"""The driver's side of port security: library objects in, :class:`PortSecurity` calls out.

:class:`HostPortSecurity` keeps the groups the service handed it
(``update_security_group``: rules and members), turns a port into a
:class:`PortSpec` for its device, and programs: a port before its device
exists, a group's rules or members where this host's ports use them, and
the whole host in ``sync``. Used by the Linux bridge driver (kernel) and
the noop driver (a recording runner: the scripts it would run).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Sequence

from naas_lib import objects
from naas_lib.drivers import base
from naas_lib.drivers.linuxbridge import portsec_rules as R
from naas_lib.drivers.linuxbridge.portsec import (
    DesiredPortSecurity,
    PortSecurity,
    PortSecurityReport,
)

LOG = logging.getLogger(__name__)


def port_spec(port: objects.Port, device: str) -> R.PortSpec:
    """What the host enforces for ``port`` on ``device``."""
    enabled = bool(port.port_security_enabled)
    return R.PortSpec(
        device=device, mac=port.mac_address.lower(),
        fixed_ips=tuple(f.ip_address for f in port.fixed_ips),
        allowed_address_pairs=tuple(R.AddressPair(p.ip_address, p.mac_address)
                                    for p in port.allowed_address_pairs) if enabled else (),
        port_security_enabled=enabled,
        security_groups=tuple(port.security_groups) if enabled else ())


def group_spec(state: base.SecurityGroupState) -> R.SecurityGroup:
    """A group's rules and members as the renderer takes them."""
    rules = tuple(R.SecurityGroupRule(
        direction=r.direction, ethertype=r.ethertype, protocol=r.protocol,
        port_range_min=r.port_range_min, port_range_max=r.port_range_max,
        remote_ip_prefix=r.remote_ip_prefix, remote_group_id=r.remote_group_id, id=r.id)
        for r in state.group.security_group_rules)
    return R.SecurityGroup(state.group.id, rules, tuple(state.members))


class HostPortSecurity:
    """One host's port security, fed with library objects.

    It keeps every group it was handed (rules and members) with the group's
    revision (:attr:`revisions`), so that the service hands it again only the
    groups whose revision moved: members reach it through
    :meth:`update_members` and :meth:`sync`, and a port it programs joins its
    own groups' members here (the service tells no one about a port until it
    is plugged).
    """

    def __init__(self, portsec: PortSecurity) -> None:
        self.portsec = portsec
        self.groups: dict[str, R.SecurityGroup] = {}
        #: The revision of each kept group as the service last handed it.
        self.revisions: dict[str, int] = {}

    def _keep(self, state: base.SecurityGroupState) -> R.SecurityGroup:
        group = group_spec(state)
        self.groups[group.id] = group
        self.revisions[group.id] = state.group.revision_number
        return group

    def _used_here(self, group_id: str) -> bool:
        """A port here is in the group, or in a group whose rules name it as remote."""
        used = {g for p in self.portsec.ports().values() for g in p.security_groups}
        if group_id in used:
            return True
        return any(group_id in R.referenced_groups(self.groups[g])
                   for g in used if g in self.groups)

    def update_group(self, state: base.SecurityGroupState) -> None:
        """Keep a group; reprogram it when it changed and a port here uses it."""
        known = self.groups.get(state.group.id)
        group = self._keep(state)
        if known == group or not self._used_here(group.id):
            return
        if known is None or known.rules != group.rules:
            # Remote groups the rules name are kept (the service hands them first):
            # their members are programmed with the rules.
            self.portsec.update_group_rules(group, [
                self.groups[r] for r in sorted(R.referenced_groups(group))
                if r in self.groups and r != group.id])
        if known is None or known.members != group.members:
            self.portsec.update_members(group.id, group.members or ())

    def prepare(self, states: Iterable[base.SecurityGroupState]) -> None:
        """Keep groups for the next :meth:`apply`, which programs what changed with the port."""
        for state in states:
            self._keep(state)

    def update_members(self, group_id: str, addresses: Sequence[str]) -> None:
        known = self.groups.get(group_id)
        if known is not None:
            self.groups[group_id] = R.SecurityGroup(group_id, known.rules, tuple(addresses))
        if self._used_here(group_id):
            self.portsec.update_members(group_id, addresses)

    def _groups_for(self, spec: R.PortSpec) -> list[R.SecurityGroup]:
        """The port's groups and the groups their rules name, as far as they are known."""
        wanted = list(spec.security_groups)
        for gid in list(wanted):
            group = self.groups.get(gid)
            if group is not None:
                wanted += sorted(R.referenced_groups(group) - set(wanted))
        missing = [g for g in wanted if g not in self.groups]
        if missing:
            LOG.warning("Port %s uses security groups %s this host was not told about; "
                        "they stay closed until the next sync", spec.device, missing)
        return [self.groups[g] if g in self.groups else R.SecurityGroup(g, (), ())
                for g in wanted]

    def _join(self, spec: R.PortSpec) -> None:
        """Count the port's own addresses among the members of its kept groups.

        The port is a member of its groups in the database already; the service
        reads a group again only when its revision moved, so the port being
        plugged here is added to what this host holds (and programs with it).
        Its addresses are appended: the programmer parses only what a
        membership appended since it last saw it, so a plug costs the same
        with ten members or thousands.
        """
        own = tuple(dict.fromkeys(R.member_addresses([spec])))
        if not own:
            return
        for gid in spec.security_groups:
            group = self.groups.get(gid)
            if group is None or group.members is None:
                continue
            new = tuple(a for a in own if a not in group.members)
            if new:
                self.groups[gid] = R.SecurityGroup(gid, group.rules, group.members + new)

    def apply(self, port: objects.Port, device: str) -> None:
        """Program a port (before its device exists): its anti-spoofing and groups."""
        spec = port_spec(port, device)
        if not spec.port_security_enabled and not self.portsec.programs(device):
            return
        self._join(spec)
        self.portsec.apply_port(spec, self._groups_for(spec))

    def apply_many(self, devices: Iterable[tuple[objects.Port, str]]) -> None:
        """Program several ports (``(port, device)``) in one transaction (a boot's NICs)."""
        specs = [spec for spec in (port_spec(p, d) for p, d in devices)
                 if spec.port_security_enabled or self.portsec.programs(spec.device)]
        for spec in specs:
            self._join(spec)
        items = [(spec, self._groups_for(spec)) for spec in specs]
        if items:
            self.portsec.apply_ports(items)

    def remove(self, device: str) -> None:
        self.portsec.remove_port(device)

    def sync(self, desired: base.DesiredState,
             devices: Iterable[tuple[objects.Port, str]]) -> PortSecurityReport:
        """Make the host's rules match the ports (``(port, device)``) and groups given."""
        for state in desired.security_groups.values():
            self._keep(state)
        specs = tuple(port_spec(p, d) for p, d in devices)
        used = {g for s in specs if s.port_security_enabled for g in s.security_groups}
        for gid in list(used):
            if gid in self.groups:
                used |= R.referenced_groups(self.groups[gid])
        groups = tuple(self.groups.get(g) or R.SecurityGroup(g, (), ()) for g in sorted(used))
        return self.portsec.sync(DesiredPortSecurity(ports=specs, groups=groups))


class RecordingRunner:
    """An nft runner that runs nothing and records each script (noop driver, tests)."""

    def __init__(self, keep: int = 1000) -> None:
        #: The latest scripts, oldest first (a bounded record: sync rounds repeat).
        self.scripts: collections.deque[str] = collections.deque(maxlen=keep)

    def __call__(self, script: str, args: Sequence[str] = ("-f", "-")) -> str:
        if script:
            self.scripts.append(script)
        return ""
