"""Programs port security and security groups into this host's kernel (nftables).

:class:`PortSecurity` keeps what it has programmed (ports, their mark
indexes, groups, membership) and turns each change into one ``nft -f -``
transaction that touches only ``bridge naas_portsec`` and ``inet naas_sg``
(see :mod:`.portsec_rules` for the layout). It never flushes the ruleset or
another table and never writes a sysctl: :meth:`PortSecurity.capable` reads
the two br_netfilter settings and says which one is missing.

A port's chains are flushed and refilled in the same transaction, so a
change is atomic: established connections (conntrack entries) stay, a rule
that is gone stops new connections at once. :meth:`PortSecurity.sync`
rebuilds both tables in one transaction when they differ from what was
programmed last (drift, such as a rule deleted by hand) or from the desired
state, dropping ports that no longer exist.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from naas_lib import exceptions as exc
from naas_lib.drivers.linuxbridge import netlink as nl
from naas_lib.drivers.linuxbridge import portsec_rules as R
from naas_lib.drivers.linuxbridge.portsec_rules import (  # noqa: F401 - re-exported inputs
    AddressPair,
    PortSpec,
    SecurityGroup,
    SecurityGroupRule,
    TrustedResponders,
)

LOG = logging.getLogger(__name__)

SYSCTLS = ("net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables")

#: Runs an nft script (or ``list`` commands) and returns nft's standard output.
Runner = Callable[[str, Sequence[str]], str]


@dataclass(frozen=True)
class DesiredPortSecurity:
    """Everything this host should enforce: its filtered ports and the groups they use."""

    ports: tuple[PortSpec, ...] = ()
    groups: tuple[SecurityGroup, ...] = ()


@dataclass
class PortSecurityReport:
    """What :meth:`PortSecurity.sync` changed."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    repaired: bool = False
    rebuilt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.repaired or self.rebuilt)


def nft_runner(netns: str | None, binary: str = "nft") -> Runner:
    """A runner that executes ``nft`` inside ``netns`` (None: this namespace)."""

    def run(script: str, args: Sequence[str] = ("-f", "-")) -> str:
        with nl.entered(netns):
            proc = subprocess.run([binary, *args], input=script, capture_output=True,
                                  text=True)
        if proc.returncode != 0:
            raise exc.DriverError(driver="linuxbridge",
                                  reason=f"nft failed: {proc.stderr.strip()[:2000]}")
        return proc.stdout

    return run


class PortSecurity:
    """Anti-spoofing and security groups of the ports on one host (one network namespace)."""

    def __init__(self, netns: str | None = None,
                 trusted: TrustedResponders | None = None,
                 runner: Runner | None = None) -> None:
        self.netns = netns or None
        self.trusted = trusted or TrustedResponders()
        self._run = runner or nft_runner(self.netns)
        self._ports: dict[str, PortSpec] = {}
        self._indexes: dict[str, int] = {}
        self._groups: dict[str, SecurityGroup] = {}
        self._members: dict[str, tuple[str, ...]] = {}
        self._loaded = False
        self._skeleton_done = False
        self._fingerprint: str | None = None

    # -- capability -------------------------------------------------------------------

    def capable(self) -> tuple[bool, str]:
        """Whether this namespace passes bridged IP traffic to inet hooks; never writes."""
        missing = []
        with nl.entered(self.netns):
            for name in SYSCTLS:
                try:
                    with open(os.path.join("/proc/sys", name)) as f:
                        value = f.read().strip()
                except OSError:
                    value = None
                if value != "1":
                    missing.append(name.replace("/", "."))
        if missing:
            reason = ("set " + " and ".join(f"{m}=1" for m in missing)
                      + " (modprobe br_netfilter first if the keys do not exist)")
            return False, reason
        return True, "bridged IPv4 and IPv6 traffic reaches the inet forward hook"

    # -- changes ------------------------------------------------------------------------

    def apply_port(self, port: PortSpec, groups: Iterable[SecurityGroup] = ()) -> None:
        """Program (or reprogram) a port and the groups it uses, in one transaction.

        A port with port security off gets no rules at all (and loses any it had).
        """
        R.check_port(port)
        groups = [R.check_group(g) for g in groups]
        if not port.port_security_enabled:
            self.remove_port(port.device)
            return
        self._load()
        cmds = self._skeleton()
        changed = {}
        for group in groups:
            cmds += self._group_commands(group, changed)
        index = self._index(port.device)
        cmds += R.bridge_port(port, index) + R.inet_port(port, index)
        self._commit(cmds)
        self._ports[port.device] = port
        self._record_groups(changed)

    def remove_port(self, device: str) -> bool:
        """Remove a port's rules (idempotent: False when it had none)."""
        self._load()
        index = self._indexes.get(device)
        if index is None:
            return False
        self._commit(R.bridge_remove(device, index) + R.inet_remove(device, index))
        self._ports.pop(device, None)
        self._indexes.pop(device, None)
        return True

    def update_group_rules(self, group: SecurityGroup) -> None:
        """Replace a group's rules on this host; every port using it sees them at once."""
        R.check_group(group)
        self._load()
        changed: dict[str, SecurityGroup] = {}
        cmds = self._group_commands(group, changed, force=True)
        self._commit(self._skeleton() + cmds)
        self._record_groups(changed)

    def update_members(self, group_id: str, addresses: Iterable[str]) -> None:
        """Replace a group's membership set (elements only: no chain or rule changes)."""
        R.check_id(group_id, "security_group_id")
        addresses = tuple(addresses)
        self._load()
        self._commit(self._skeleton() + R.inet_members(group_id, addresses))
        self._members[group_id] = addresses

    def sync(self, desired: DesiredPortSecurity) -> PortSecurityReport:
        """Make the kernel match ``desired`` exactly, rebuilding both tables if they differ."""
        for port in desired.ports:
            R.check_port(port)
        for group in desired.groups:
            R.check_group(group)
        self._load()
        wanted = {p.device: p for p in desired.ports if p.port_security_enabled}
        report = PortSecurityReport()
        in_kernel = self._kernel_devices()
        report.added = sorted(set(wanted) - in_kernel)
        report.removed = sorted(in_kernel - set(wanted))
        listing = self._listing()
        same_state = (wanted == self._ports and self._fingerprint is not None
                      and all(self._groups.get(g.id) == g for g in desired.groups))
        report.repaired = self._fingerprint is not None and listing != self._fingerprint
        if same_state and not report.repaired and not report.added and not report.removed:
            return report
        for device in list(self._indexes):
            if device not in wanted:
                del self._indexes[device]
        ordered = [(port, self._index(port.device)) for port in wanted.values()]
        self._commit(R.full_ruleset(ordered, desired.groups, self.trusted), stale=False)
        self._ports = dict(wanted)
        self._groups = {g.id: g for g in desired.groups}
        self._members = {g.id: g.members for g in desired.groups if g.members is not None}
        self._fingerprint = self._listing()
        report.rebuilt = True
        return report

    def ports(self) -> dict[str, PortSpec]:
        """The ports this object has programmed, by device."""
        return dict(self._ports)

    def ruleset(self) -> str:
        """The current text of both tables (what an operator's ``nft list`` would show)."""
        return self._listing()

    # -- internals -------------------------------------------------------------------------

    def _commit(self, cmds: list[str], stale: bool = True) -> None:
        if stale:
            self._fingerprint = None
        try:
            self._run(R.script(cmds), ("-f", "-"))
        except exc.DriverError:
            if not stale or not self._skeleton_done:
                raise
            # The tables may have been deleted by hand: recreate them and retry once.
            LOG.warning("nft transaction failed; retrying with the base tables recreated")
            self._skeleton_done = False
            self._run(R.script(self._skeleton() + cmds), ("-f", "-"))

    def _skeleton(self) -> list[str]:
        if self._skeleton_done:
            return []
        self._skeleton_done = True
        return R.bridge_skeleton(self.trusted) + R.inet_skeleton()

    def _group_commands(self, group: SecurityGroup, changed: dict[str, SecurityGroup],
                        force: bool = False) -> list[str]:
        known = self._groups.get(group.id)
        same_rules = known is not None and known.rules == group.rules
        same_members = group.members is None or self._members.get(group.id) == group.members
        if same_rules and same_members and not force:
            return []
        changed[group.id] = group
        if same_rules and not force:
            return R.inet_members(group.id, group.members)
        return R.inet_group(group)

    def _record_groups(self, changed: dict[str, SecurityGroup]) -> None:
        for gid, group in changed.items():
            known = self._groups.get(gid)
            self._groups[gid] = SecurityGroup(gid, group.rules,
                                              group.members if group.members is not None
                                              else (known.members if known else None))
            if group.members is not None:
                self._members[gid] = group.members

    def _index(self, device: str) -> int:
        index = self._indexes.get(device)
        if index is not None:
            return index
        used = set(self._indexes.values())
        # Start from a stable point so that a device tends to get the same index.
        start = (sum(device.encode()) * 131) % R.MAX_PORT_INDEX + 1
        for offset in range(R.MAX_PORT_INDEX):
            candidate = (start - 1 + offset) % R.MAX_PORT_INDEX + 1
            if candidate not in used:
                self._indexes[device] = candidate
                return candidate
        raise exc.DriverError(driver="linuxbridge",
                              reason=f"more than {R.MAX_PORT_INDEX} filtered ports on a host")

    def _load(self) -> None:
        """Recover port indexes a previous process left in the kernel (once)."""
        if self._loaded:
            return
        self._loaded = True
        for device, mark in self._kernel_marks().items():
            self._indexes.setdefault(device, mark >> R.FROM_SHIFT)

    def _kernel_marks(self) -> dict[str, int]:
        try:
            out = self._run("", ("-j", "list", "map", "bridge", R.BRIDGE_TABLE, "from_mark"))
        except exc.DriverError:
            return {}
        marks = {}
        for item in json.loads(out or "{}").get("nftables", []):
            for element in item.get("map", {}).get("elem", []) or []:
                key, value = element if isinstance(element, list) else (None, None)
                if isinstance(key, str) and isinstance(value, int):
                    marks[key] = value
        return marks

    def _kernel_devices(self) -> set[str]:
        return set(self._kernel_marks())

    def _listing(self) -> str:
        parts = []
        for family, table in (("bridge", R.BRIDGE_TABLE), ("inet", R.INET_TABLE)):
            try:
                parts.append(self._run("", ("list", "table", family, table)))
            except exc.DriverError:
                parts.append("")
        return "\n".join(parts)
