"""Programs port security and security groups into this host's kernel (nftables).

:class:`PortSecurity` keeps what it has programmed (ports, their mark
indexes, groups, membership) and turns each change into one ``nft -f -``
transaction that touches only ``bridge naas_portsec`` and ``inet naas_sg``
(see :mod:`.portsec_rules` for the layout). It never flushes the ruleset or
another table and never writes a sysctl: :meth:`PortSecurity.capable` reads
the two br_netfilter settings and says which one is missing.

A port is a handful of set elements in the bridge table and two short
chains in the inet table; its chains are flushed and refilled in the same
transaction as everything else of a change, so a change is atomic:
established connections (conntrack entries) stay, a rule that is gone stops
new connections at once. :meth:`PortSecurity.sync`
rebuilds both tables in one transaction when they differ from what was
programmed last (drift, such as a rule deleted by hand) or from the desired
state, dropping ports that no longer exist.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from naas_lib import exceptions as exc
from naas_lib.drivers.linuxbridge import netlink as nl
from naas_lib.drivers.linuxbridge import nft_elements
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


class Libnftables:
    """Runs nft commands in-process through libnftables (no fork and exec per change).

    The library's netlink socket is opened when its context is made, so making
    it inside ``netns`` binds every later command to that namespace.
    """

    _JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON

    def __init__(self, netns: str | None) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("nftables") or "libnftables.so.1")
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        self._lib = lib
        self._lock = threading.Lock()
        with nl.entered(netns):
            self._ctx = lib.nft_ctx_new(0)
        if not self._ctx:
            raise OSError("nft_ctx_new failed")
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        #: Element-only scripts (a plug's or unplug's usual change) skip the library.
        self._elements = nft_elements.ElementBatches(netns)

    def __call__(self, script: str, args: Sequence[str] = ("-f", "-")) -> str:
        if tuple(args) == ("-f", "-") and self._ctx is not None:
            messages = nft_elements.translate(script)
            # The batch is all or nothing: after a refusal, libnftables runs the
            # same script and reports what nft says about it.
            if messages is not None and self._elements.send(messages) == 0:
                return ""
        as_json = bool(args) and args[0] == "-j"
        text = script if tuple(args[:2]) == ("-f", "-") else " ".join(
            a for a in args if a != "-j")
        with self._lock:
            if self._ctx is None:
                raise exc.DriverError(driver="linuxbridge", reason="port security is closed")
            self._lib.nft_ctx_output_set_flags(self._ctx, self._JSON if as_json else 0)
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise exc.DriverError(driver="linuxbridge", reason=f"nft failed: {err.strip()[:2000]}")
        return out

    def close(self) -> None:
        self._elements.close()
        with self._lock:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


def default_runner(netns: str | None) -> Runner:
    """libnftables in-process when it loads, else the ``nft`` command."""
    try:
        return Libnftables(netns)
    except (OSError, AttributeError) as e:
        LOG.info("libnftables unavailable (%s); running the nft command instead", e)
        return nft_runner(netns)


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
        self._run = runner or default_runner(self.netns)
        self._ports: dict[str, PortSpec] = {}
        self._indexes: dict[str, int] = {}
        self._used_indexes: set[int] = set()  # the values of _indexes
        self._elements: dict[str, dict[str, list[str]]] = {}
        #: What each port's (egress, ingress) map elements jump to (None: no element).
        self._verdicts: dict[str, tuple[str | None, str | None]] = {}
        self._groups: dict[str, SecurityGroup] = {}
        self._members: dict[str, tuple[str, ...]] = {}
        #: Parsed membership last programmed, by group (made from ``_members`` when missing).
        self._member_state: dict[str, R.Members] = {}
        self._loaded = False
        self._skeleton_done = False
        self._fingerprint: str | None = None
        # Threads of one process (a plug and the sync loop) take turns on this
        # object's record of the kernel; processes sharing a host need the
        # driver's external lock as well.
        self._lock = threading.RLock()
        #: Open files of the br_netfilter settings in this namespace, by name.
        self._sysctl_fds: dict[str, int] = {}
        self._sysctl_lock = threading.Lock()

    # -- capability -------------------------------------------------------------------

    def capable(self) -> tuple[bool, str]:
        """Whether this namespace passes bridged IP traffic to inet hooks; never writes.

        Asked at every bind of a port that needs port security: the two
        settings' files stay open (opened inside the namespace, they read that
        namespace's values), so asking again is two reads, not two namespace
        switches and opens.
        """
        missing = [name.replace("/", ".") for name in SYSCTLS if self._sysctl(name) != "1"]
        if missing:
            reason = ("set " + " and ".join(f"{m}=1" for m in missing)
                      + " (modprobe br_netfilter first if the keys do not exist)")
            return False, reason
        return True, "bridged IPv4 and IPv6 traffic reaches the inet forward hook"

    def _sysctl(self, name: str) -> str | None:
        """A setting of this namespace (None: absent, br_netfilter not loaded)."""
        with self._sysctl_lock:
            return self._read_sysctl(name)

    def _read_sysctl(self, name: str) -> str | None:
        fd = self._sysctl_fds.get(name)
        if fd is not None:
            try:
                return os.pread(fd, 64, 0).decode().strip()
            except OSError:  # the namespace went: open it again below
                self._sysctl_fds.pop(name, None)
                os.close(fd)
        try:
            with nl.entered(self.netns):
                fd = os.open(os.path.join("/proc/sys", name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        self._sysctl_fds[name] = fd
        try:
            return os.pread(fd, 64, 0).decode().strip()
        except OSError:
            return None

    # -- changes ------------------------------------------------------------------------

    def apply_port(self, port: PortSpec, groups: Iterable[SecurityGroup] = ()) -> None:
        """Program (or reprogram) a port and the groups it uses, in one transaction.

        A port with port security off gets no rules at all (and loses any it had).
        """
        self.apply_ports([(port, groups)])

    def apply_ports(self, items: Iterable[tuple[PortSpec, Iterable[SecurityGroup]]]) -> None:
        """Program several ports (and their groups) in one transaction.

        For a host's boot or a reconciliation round: the kernel's fixed cost of a
        transaction is paid once instead of once per port.
        """
        with self._lock:
            return self._apply_ports(items)

    def _apply_ports(self, items: Iterable[tuple[PortSpec, Iterable[SecurityGroup]]]) -> None:
        checked = []
        seen: dict[str, SecurityGroup] = {}
        members: dict[str, R.Members] = {}  # new memberships, parsed before anything runs
        for port, groups in items:
            R.check_port(port)
            checked.append((port, [self._checked(g, seen, members) for g in groups]))
        self._load()
        changed: dict[str, SecurityGroup] = {}
        made: dict[str, dict[str, list[str]]] = {}  # the elements of each port, as rendered
        enabled = [(p, g) for p, g in checked if p.port_security_enabled]
        disabled = {p.device for p, _ in checked if not p.port_security_enabled}
        disabled = {d for d in disabled if d in self._indexes}
        if not enabled and not disabled:
            return

        def build() -> list[str]:
            changed.clear()
            cmds: list[str] = []
            add: dict[str, list[str]] = {}
            delete: dict[str, list[str]] = {}
            for device in sorted(d for d in disabled if d in self._indexes):
                _merge(delete, self._elements.get(device, {}))
                cmds += R.inet_remove(self._indexes[device], self._verdict(device))
            if not enabled and disabled == set(self._indexes):
                # The last filtered port goes: the tables go with it.
                return R.bridge_elements({}, delete) + cmds + R.drop_tables()
            for port, groups in enabled:
                for group in groups:
                    if changed.get(group.id) != group:
                        cmds += self._group_commands(group, changed, members)
                index = self._index(port.device)
                new = made[port.device] = R.port_elements(port, index)
                more, fewer = _diff(new, self._elements.get(port.device, {}))
                _merge(add, more)
                _merge(delete, fewer)
                cmds += R.inet_port(port, index, self._verdict(port.device), self._groups)
            # One command per set: nft checks interval sets per command, not per element.
            return R.bridge_elements(add, delete) + cmds

        self._transact(build)
        for device in disabled:
            self._forget(device)
        if not enabled and not self._indexes:
            self._tables_dropped()
        for port, _ in enabled:
            self._ports[port.device] = port
            self._elements[port.device] = made[port.device]
            self._verdicts[port.device] = R.port_verdicts(port)
        self._record_groups(changed, members)

    def remove_port(self, device: str) -> bool:
        """Remove a port's rules (idempotent: False when it had none)."""
        with self._lock:
            return self._remove_port(device)

    def _remove_port(self, device: str) -> bool:
        self._load()
        if device not in self._indexes:
            return False

        last = set(self._indexes) == {device}
        self._transact(lambda: self._remove_commands(device)
                       + (R.drop_tables() if last else []))
        self._forget(device)
        if last:  # the tables went with the host's last filtered port
            self._tables_dropped()
        return True

    def update_group_rules(self, group: SecurityGroup,
                           remotes: Iterable[SecurityGroup] = ()) -> None:
        """Replace a group's rules on this host; every port using it sees them at once.

        ``remotes`` are groups its rules name whose members this object may not
        have programmed yet (a rule naming a new remote group): their member
        sets are filled in the same transaction.
        """
        with self._lock:
            return self._update_group_rules(group, tuple(remotes))

    def _update_group_rules(self, group: SecurityGroup,
                            remotes: tuple[SecurityGroup, ...] = ()) -> None:
        R.check_group(SecurityGroup(group.id, group.rules))
        members: dict[str, R.Members] = {}
        if group.members is not None:
            members[group.id] = R.members_of(group.members, self._known_members(group.id))
        filled = [r for r in remotes if r.id != group.id and r.members is not None
                  and (self._members.get(r.id) != tuple(r.members)
                       or r.id not in self._member_state)]
        for remote in filled:
            R.check_id(remote.id, "security_group_id")
            members[remote.id] = R.members_of(remote.members, self._known_members(remote.id))
        changed: dict[str, SecurityGroup] = {}

        def build() -> list[str]:
            cmds = self._group_commands(group, changed, members, force=True)
            for remote in filled:  # the sets exist: the group's commands make them
                cmds += R.inet_member_changes(remote.id, members[remote.id],
                                              self._known_members(remote.id),
                                              create_sets=False)
            return cmds

        self._transact(build)
        self._record_groups(changed, members)
        for remote in filled:
            self._members[remote.id] = tuple(remote.members)
            self._member_state[remote.id] = members[remote.id]

    def update_members(self, group_id: str, addresses: Iterable[str]) -> None:
        """Replace a group's membership set (elements only: no chain or rule changes)."""
        with self._lock:
            return self._update_members(group_id, addresses)

    def _update_members(self, group_id: str, addresses: Iterable[str]) -> None:
        R.check_id(group_id, "security_group_id")
        addresses = tuple(addresses)
        if self._members.get(group_id) == addresses and group_id in self._member_state:
            return
        new = R.members_of(addresses, self._known_members(group_id))
        self._transact(lambda: R.inet_member_changes(group_id, new,
                                                     self._known_members(group_id)))
        self._members[group_id] = addresses
        self._member_state[group_id] = new

    def sync(self, desired: DesiredPortSecurity) -> PortSecurityReport:
        """Make the kernel match ``desired`` exactly, rebuilding both tables if they differ."""
        with self._lock:
            return self._sync(desired)

    def _sync(self, desired: DesiredPortSecurity) -> PortSecurityReport:
        for port in desired.ports:
            R.check_port(port)
        for group in desired.groups:
            R.check_group(group)
        self._load()
        wanted = {p.device: p for p in desired.ports if p.port_security_enabled}
        report = PortSecurityReport()
        in_kernel = set(self._kernel_marks())
        report.added = sorted(set(wanted) - in_kernel)
        report.removed = sorted(in_kernel - set(wanted))
        if not wanted:  # no filtered port here: no tables either
            if in_kernel or self._indexes or self._skeleton_done or self._tables_listed():
                self._run(R.script(R.drop_tables()), ("-f", "-"))
                report.rebuilt = True
            for device in list(self._indexes):
                self._forget(device)
            self._tables_dropped()
            return report
        listing = self._listing()
        same_state = (wanted == self._ports and self._fingerprint is not None
                      and all(self._groups.get(g.id) == g for g in desired.groups))
        report.repaired = self._fingerprint is not None and listing != self._fingerprint
        if same_state and not report.repaired and not report.added and not report.removed:
            return report
        for device in list(self._indexes):
            if device not in wanted:
                self._forget(device)
        ordered = [(port, self._index(port.device)) for port in wanted.values()]
        self._fingerprint = None
        self._run(R.script(R.full_ruleset(ordered, desired.groups, self.trusted)), ("-f", "-"))
        self._skeleton_done = True
        self._ports = dict(wanted)
        self._elements = {p.device: R.port_elements(p, i) for p, i in ordered}
        self._verdicts = {p.device: R.port_verdicts(p) for p, _ in ordered}
        self._groups = {g.id: g for g in desired.groups}
        self._members = {g.id: g.members for g in desired.groups if g.members is not None}
        self._member_state = {}
        self._fingerprint = self._listing()
        report.rebuilt = True
        return report

    def close(self) -> None:
        """Release the in-process nft context and the settings' files (the kernel's rules
        stay)."""
        close = getattr(self._run, "close", None)
        if close is not None:
            close()
        with self._sysctl_lock:
            for fd in self._sysctl_fds.values():
                os.close(fd)
            self._sysctl_fds.clear()

    def ports(self) -> dict[str, PortSpec]:
        """The ports this object has programmed, by device."""
        return dict(self._ports)

    def programs(self, device: str) -> bool:
        """Whether this object has programmed ``device`` (no copy of :meth:`ports`)."""
        return device in self._ports

    def ruleset(self) -> str:
        """The current text of both tables (what an operator's ``nft list`` would show)."""
        return self._listing()

    # -- internals -------------------------------------------------------------------------

    def _transact(self, build: Callable[[], list[str]]) -> None:
        """Run ``build()``'s commands as one transaction; on failure re-read the kernel's
        state (the tables may have been changed by hand) and try once more."""
        self._load()
        self._fingerprint = None
        try:
            cmds = build()
            self._run(R.script(self._skeleton() + cmds), ("-f", "-"))
        except exc.DriverError:
            LOG.warning("nft transaction failed; re-reading the kernel's tables and retrying")
            self._loaded = False
            self._skeleton_done = False
            self._members.clear()  # unknown now: membership is flushed and refilled
            self._member_state.clear()
            self._groups.clear()  # and groups are programmed again, chains and sets
            self._load()
            cmds = build()
            self._run(R.script(self._skeleton() + cmds), ("-f", "-"))

    def _checked(self, group: SecurityGroup, seen: dict[str, SecurityGroup],
                 members: dict[str, R.Members]) -> SecurityGroup:
        """Validate a group unless it was just validated or is the one already programmed
        (every plug of a host repeats the same few groups); parse a membership that
        changed into ``members``, reusing what the last one parsed."""
        if seen.get(group.id) == group:
            return group
        known = self._groups.get(group.id)
        if known is None or known.rules != group.rules:
            R.check_group(SecurityGroup(group.id, group.rules))
        if group.members is not None and (self._members.get(group.id) != group.members
                                          or group.id not in self._member_state):
            if not isinstance(group.members, (tuple, list)):
                raise exc.InvalidInput(field="members",
                                       reason="a list of addresses is expected")
            members[group.id] = R.members_of(group.members, self._known_members(group.id))
        seen[group.id] = group
        return group

    def _known_members(self, group_id: str) -> R.Members | None:
        """The parsed membership this object last programmed for a group, if it knows it."""
        if group_id not in self._member_state and group_id in self._members:
            self._member_state[group_id] = R.members_of(self._members[group_id])
        return self._member_state.get(group_id)

    def _remove_commands(self, device: str) -> list[str]:
        index = self._indexes[device]
        old = self._elements.get(device, {})
        return R.bridge_elements({}, old) + R.inet_remove(index, self._verdict(device))

    def _tables_dropped(self) -> None:
        """Forget what the kernel held in the tables just deleted (the next change makes
        them again, skeleton and groups)."""
        self._skeleton_done = False
        self._fingerprint = None
        self._groups.clear()
        self._members.clear()
        self._member_state.clear()

    def _tables_listed(self) -> bool:
        """Whether the kernel has either table (left by an earlier process, say)."""
        try:
            out = self._run("", ("list", "tables"))
        except exc.DriverError:
            return False
        return any(line.split()[-1:] in ([R.BRIDGE_TABLE], [R.INET_TABLE])
                   for line in out.splitlines() if line.startswith("table "))

    def _verdict(self, device: str) -> tuple[str | None, str | None]:
        return self._verdicts.get(device, (None, None))

    def _skeleton(self) -> list[str]:
        if self._skeleton_done:
            return []
        self._skeleton_done = True
        return R.bridge_skeleton(self.trusted) + R.inet_skeleton()

    def _group_commands(self, group: SecurityGroup, changed: dict[str, SecurityGroup],
                        members: dict[str, R.Members], force: bool = False) -> list[str]:
        known = self._groups.get(group.id)
        same_rules = known is not None and known.rules == group.rules
        new = members.get(group.id)
        same_members = group.members is None or new is None
        if same_rules and same_members and not force:
            return []
        changed[group.id] = group
        member_cmds = [] if new is None else R.inet_member_changes(
            group.id, new, self._known_members(group.id), create_sets=known is None)
        if same_rules and not force:
            return member_cmds
        return R.inet_group(SecurityGroup(group.id, group.rules)) + member_cmds

    def _record_groups(self, changed: dict[str, SecurityGroup],
                       members: dict[str, R.Members]) -> None:
        for gid, group in changed.items():
            known = self._groups.get(gid)
            self._groups[gid] = SecurityGroup(gid, group.rules,
                                              group.members if group.members is not None
                                              else (known.members if known else None))
            if group.members is not None and gid in members:
                self._members[gid] = tuple(group.members)
                self._member_state[gid] = members[gid]

    def _forget(self, device: str) -> None:
        self._ports.pop(device, None)
        self._verdicts.pop(device, None)
        index = self._indexes.pop(device, None)
        self._used_indexes.discard(index)
        self._elements.pop(device, None)

    def _index(self, device: str) -> int:
        index = self._indexes.get(device)
        if index is not None:
            return index
        used = self._used_indexes
        # Start from a point derived from the name so that a device tends to keep its index.
        start = (sum(device.encode()) * 131) % R.MAX_PORT_INDEX + 1
        for offset in range(R.MAX_PORT_INDEX):
            candidate = (start - 1 + offset) % R.MAX_PORT_INDEX + 1
            if candidate not in used:
                self._indexes[device] = candidate
                used.add(candidate)
                return candidate
        raise exc.DriverError(driver="linuxbridge",
                              reason=f"more than {R.MAX_PORT_INDEX} filtered ports on a host")

    def _load(self) -> None:
        """Learn the ports (indexes and elements) the kernel holds, once per process."""
        if self._loaded:
            return
        self._loaded = True
        try:
            out = self._run("", ("-j", "list", "table", "bridge", R.BRIDGE_TABLE))
        except exc.DriverError:
            return
        elements: dict[str, dict[str, list[str]]] = {}
        indexes: dict[str, int] = {}
        for item in json.loads(out or "{}").get("nftables", []):
            body = item.get("set") or item.get("map")
            if not body:
                continue
            name = body.get("name")
            for element in body.get("elem", []) or []:
                device, text = _element_text(element)
                if device is None:
                    continue
                elements.setdefault(device, {}).setdefault(name, []).append(text)
                if name == "from_mark" and isinstance(element, list):
                    indexes[device] = int(element[1]) & R.MAX_PORT_INDEX
        self._indexes = indexes
        self._used_indexes = set(indexes.values())
        self._elements = {d: e for d, e in elements.items() if d in indexes}
        self._verdicts = self._kernel_verdicts(indexes)

    def _kernel_verdicts(self, indexes: dict[str, int]
                         ) -> dict[str, tuple[str | None, str | None]]:
        """What the kernel's egress/ingress map elements of the ports jump to."""
        by_key: dict[tuple[str, int], str] = {}
        for name in ("egress", "ingress"):
            try:
                out = self._run("", ("-j", "list", "map", "inet", R.INET_TABLE, name))
            except exc.DriverError:
                continue
            for item in json.loads(out or "{}").get("nftables", []):
                body = item.get("map")
                if not body or body.get("name") != name:
                    continue
                for element in body.get("elem", []) or []:
                    if isinstance(element, list) and isinstance(element[0], int) \
                            and isinstance(element[1], dict):
                        target = (element[1].get("jump") or {}).get("target")
                        if target:
                            by_key[(name, element[0] & R.MAX_PORT_INDEX)] = target
        return {device: (by_key.get(("egress", index)), by_key.get(("ingress", index)))
                for device, index in indexes.items()}

    def _kernel_marks(self) -> dict[str, int]:
        try:
            out = self._run("", ("-j", "list", "map", "bridge", R.BRIDGE_TABLE, "from_mark"))
        except exc.DriverError:
            return {}
        marks = {}
        for item in json.loads(out or "{}").get("nftables", []):
            for element in item.get("map", {}).get("elem", []) or []:
                if isinstance(element, list) and isinstance(element[0], str):
                    marks[element[0]] = int(element[1])
        return marks

    def _listing(self) -> str:
        parts = []
        for family, table in (("bridge", R.BRIDGE_TABLE), ("inet", R.INET_TABLE)):
            try:
                parts.append(self._run("", ("list", "table", family, table)))
            except exc.DriverError:
                parts.append("")
        return "\n".join(parts)


def _merge(into: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    for name, elements in more.items():
        into.setdefault(name, []).extend(elements)


def _diff(new: dict[str, list[str]], old: dict[str, list[str]]
          ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(elements to add, elements to delete) to go from ``old`` to ``new``."""
    add = {k: [e for e in v if e not in old.get(k, [])] for k, v in new.items()}
    delete = {k: [e for e in v if e not in new.get(k, [])] for k, v in old.items()}
    # A map element whose value changes must go before it comes back.
    for name in ("from_mark", "to_mark"):
        for element in add.get(name, []):
            key = R.element_key(name, element)
            for previous in old.get(name, []):
                if R.element_key(name, previous) == key and previous not in delete[name]:
                    delete[name].append(previous)
    return add, delete


def _element_text(element) -> tuple[str | None, str]:
    """A listed (JSON) element of the bridge table as (device, nft element syntax)."""
    if isinstance(element, str):
        return element, f'"{element}"'
    if isinstance(element, list):  # a map element: [key, value]
        return element[0], f'"{element[0]}" : {int(element[1]):#010x}'
    parts = element.get("concat") if isinstance(element, dict) else None
    if not parts or not isinstance(parts[0], str):
        return None, ""
    out = [f'"{parts[0]}"']
    for part in parts[1:]:
        if isinstance(part, dict) and "prefix" in part:
            out.append(f"{part['prefix']['addr']}/{part['prefix']['len']}")
        elif isinstance(part, dict) and "range" in part:
            out.append("-".join(_raw(v) for v in part["range"]))
        elif isinstance(part, int):  # a raw payload (neighbour advertisement target)
            out.append(_raw(part))
        else:
            out.append(str(part))
    return parts[0], " . ".join(out)


def _raw(value) -> str:
    """A listed element part as the renderer writes it (128-bit payloads in hex)."""
    return f"0x{value:032x}" if isinstance(value, int) else str(value)
