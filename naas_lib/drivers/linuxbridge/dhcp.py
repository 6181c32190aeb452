"""The per-host DHCP/RA responder: one dnsmasq per network per host.

The Linux bridge driver owns a :class:`DhcpManager` and hands it plain
:class:`~.dhcp_config.NetworkSpec` values (the network, its subnets, the
ports bound to this host). For each network it keeps, on this host:

* a network namespace ``naasdhcp-<scope>-<8 chars of the network id>``,
  where the scope is the driver's own namespace when it works inside one,
  else the host name (so several services sharing one kernel, as tests and
  the demo do, never take each other's responders for strays), because
  every host's responder has the same address and tenant CIDRs may overlap;
* a veth pair: ``dhcp0`` inside that namespace with the responder's
  addresses and a MAC derived from the network id, and ``dhv<11 chars>`` on
  the network's bridge (the ``dhv`` prefix is how :meth:`DhcpManager.sync`
  finds its own devices);
* a dnsmasq daemon with its pid, hosts and options files under
  ``state_dir/<network id>/``;
* the ``bridge naas_dhcp`` nftables table, which lets the responder's
  frames reach only this host's port devices (``tap*``, ``nvh*``) and lets
  only those reach it, so replies never leave the host on an uplink.

A port or option change rewrites the two files and sends SIGHUP (same pid);
only a change of the command line (subnets, lease time, IPv6 modes) restarts
dnsmasq. Nothing is signalled unless ``/proc/<pid>/cmdline`` shows it is
dnsmasq started with our pid file. Responders are host state like bridges:
they outlive the Python process (``close`` stops nothing); ``remove`` and
``sync`` are what take them away, leaving no process, namespace, device or
file behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from naas_lib import constants
from naas_lib.drivers.linuxbridge import dhcp_config as config
from naas_lib.drivers.linuxbridge import names

LOG = logging.getLogger(__name__)

#: Prefix of the host end of each responder's veth (``dhv`` + 11 id characters).
VETH_PREFIX = "dhv"
#: Prefix of the responders' namespaces.
NAMESPACE_PREFIX = "naasdhcp-"
#: The nftables table this component owns (and nothing else).
NFT_FAMILY, NFT_TABLE = "bridge", "naas_dhcp"
#: Where named network namespaces are mounted (iproute2's and pyroute2's place).
NETNS_DIR = "/run/netns"
DNSMASQ = "dnsmasq"
_STOP_TIMEOUT = 3.0


def veth_name(network_id: str) -> str:
    """Host end of a network's responder veth, within IFNAMSIZ."""
    return (VETH_PREFIX + network_id[:names.ID_CHARS])[:constants.IFNAMSIZ]


def namespace_prefix(host_netns: str | None, scope: str | None = None) -> str:
    """What every responder namespace of one manager starts with.

    ``naasdhcp-<host_netns>-`` when the driver works in a namespace, else
    ``naasdhcp-<scope>-`` (the driver passes its host name), else ``naasdhcp-``.
    """
    owner = host_netns or scope
    return f"{NAMESPACE_PREFIX}{owner}-" if owner else NAMESPACE_PREFIX


def nft_ruleset() -> str:
    """The whole ``bridge naas_dhcp`` table, replaced in one ``nft -f`` transaction.

    Declaring the table first makes the ``delete`` valid when it does not exist yet.
    """
    rules = []
    for direction, other in (("iifname", "oifname"), ("oifname", "iifname")):
        for prefix in names.PORT_PREFIXES:
            rules.append(f'{direction} "{VETH_PREFIX}*" {other} "{prefix}*" accept')
        rules.append(f'{direction} "{VETH_PREFIX}*" drop')
    body = "\n".join(f"    {r}" for r in rules)
    return (f"table {NFT_FAMILY} {NFT_TABLE}\n"
            f"delete table {NFT_FAMILY} {NFT_TABLE}\n"
            f"table {NFT_FAMILY} {NFT_TABLE} {{\n"
            f"  chain forward {{\n"
            f"    type filter hook forward priority 0; policy accept;\n"
            f"{body}\n"
            f"  }}\n"
            f"}}\n")


@dataclasses.dataclass
class DhcpSyncReport:
    """What :meth:`DhcpManager.sync` changed, by network id."""

    started: list[str] = dataclasses.field(default_factory=list)
    restarted: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.started or self.restarted or self.updated or self.removed)


class DhcpError(RuntimeError):
    """A responder could not be set up (dnsmasq refused to start, a device failed)."""


class DhcpManager:
    """Runs and supervises this host's DHCP/RA responders, one per network.

    ``host_netns`` is the namespace the driver works in (where the bridges
    are); None means the process's own. Methods are not thread-safe: the
    driver calls them under its host lock.
    """

    def __init__(self, state_dir: str | os.PathLike, host_netns: str | None = None,
                 dnsmasq: str = DNSMASQ, log_dhcp: bool = False,
                 scope: str | None = None,
                 get_link: Callable[[str], Any] | None = None) -> None:
        self.state_dir = Path(state_dir)
        #: The driver's netlink lookup in ``host_netns`` (a ``netlink.Link`` or None):
        #: the update path's plumbing check then costs no ``ip`` process.
        self.get_link = get_link
        self.host_netns = host_netns
        self.dnsmasq = shutil.which(dnsmasq) or dnsmasq
        self.log_dhcp = log_dhcp
        self.namespace_prefix = namespace_prefix(host_netns, scope)
        #: Per network, what this manager last made its responder serve: the spec,
        #: the hosts and options files' text and the command line's digest.
        self._served: dict[str, tuple[config.NetworkSpec, str, str, str]] = {}
        #: What a responder's command line, options file and plumbing come to, by the
        #: parts of its spec they depend on (not its ports): every plug on a network
        #: repeats them, and only its hosts file differs.
        self._fixed: dict[tuple, tuple[list[str], str, str, str]] = {}
        #: Per network: its subnets as last served and the hosts-file lines of its ports
        #: (``config.hosts_file``), so an update renders only what changed.
        self._host_lines: dict[str, tuple[tuple, dict]] = {}

    # -- naming and files -------------------------------------------------

    def namespace(self, network_id: str) -> str:
        """The namespace of a network's responder on this host."""
        return self.namespace_prefix + network_id[:8]

    def _dir(self, network_id: str) -> Path:
        return self.state_dir / network_id

    def _pid_file(self, network_id: str) -> Path:
        return self._dir(network_id) / "pid"

    # -- public -------------------------------------------------------------

    def ensure(self, spec: config.NetworkSpec, bridge: Any | None = None) -> str:
        """Make the network's responder serve ``spec``; returns what was done.

        ``"started"`` (new), ``"restarted"`` (command line changed or it had
        died), ``"updated"`` (files changed, SIGHUP), ``"unchanged"``, or
        ``"removed"`` when the spec leaves nothing to serve. ``bridge``, the
        network's bridge as the caller just read it (a ``netlink.Link``),
        spares looking it up again.
        """
        if not spec.wanted:
            return "removed" if self.remove(spec.id) else "unchanged"
        # The pid file lives in the directory: no directory, no responder (and
        # no need to read a pid file and /proc to know it).
        new = not self._dir(spec.id).exists()
        self._served.pop(spec.id, None)
        try:
            return self._ensure(spec, bridge)
        except BaseException:
            if new:  # compensate: nothing half-made of a responder that never ran
                self.remove(spec.id)
            raise

    def forget(self, network_id: str, port_ids: Iterable[str]) -> bool:
        """Stop serving ports that left this host, from the spec this manager last served.

        Costs no read of the database: the hosts file is rewritten without
        them (SIGHUP). False, with nothing done, when that spec may not be
        what the responder serves now (none served by this manager, or its
        files or command line changed since: another process updated it), or
        when no port would be left (whether the responder stays is then for
        a whole spec to say); the caller then passes the network's state.
        """
        served = self._served.get(network_id)
        if served is None:
            return False
        spec, hosts, opts, args = served
        gone = set(port_ids)
        left = tuple(p for p in spec.ports if p.id not in gone)
        if not left:
            return False
        directory = self._dir(network_id)
        try:
            current = ((directory / "hosts").read_text(), (directory / "opts").read_text())
        except OSError:
            return False
        if current != (hosts, opts) or _read_json(directory / "state.json").get("args") != args:
            return False
        if len(left) < len(spec.ports):
            self.ensure(dataclasses.replace(spec, ports=left))
        return True

    def _fixed_parts(self, spec: config.NetworkSpec, directory: Path
                     ) -> tuple[list[str], str, str, str]:
        """The command line, its digest, the options file and the plumbing's digest."""
        key = (spec.id, spec.bridge, spec.mtu, spec.subnets, str(directory), self.log_dhcp)
        fixed = self._fixed.get(key)
        if fixed is None:
            args = config.command_line(
                spec, pid_file=str(self._pid_file(spec.id)),
                hosts_file=str(directory / "hosts"), opts_file=str(directory / "opts"),
                log_file=str(directory / "log") if self.log_dhcp else None)
            plumbing = _digest([spec.bridge, spec.mtu, config.responder_addresses(spec)])
            if len(self._fixed) >= 1024:  # networks come and go: keep it bounded
                self._fixed.clear()
            fixed = self._fixed[key] = (args, _digest(args), config.opts_file(spec), plumbing)
        return fixed

    def _ensure(self, spec: config.NetworkSpec, bridge: Any | None = None) -> str:
        directory = self._dir(spec.id)
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
        except FileNotFoundError:  # the state directory itself is new
            directory.mkdir(parents=True, exist_ok=True)
        args, digest, opts, plumbing = self._fixed_parts(spec, directory)
        subnets, memo = self._host_lines.get(spec.id, (None, None))
        if memo is None or subnets != spec.subnets:
            if len(self._host_lines) >= 1024:  # networks come and go: keep it bounded
                self._host_lines.clear()
            memo = {}
            self._host_lines[spec.id] = (spec.subnets, memo)
        hosts = config.hosts_file(spec, memo)
        files_changed = _write_if_changed(directory / "hosts", hosts)
        files_changed |= _write_if_changed(directory / "opts", opts)
        state_file = directory / "state.json"
        state = _read_json(state_file)
        if state.get("plumbing") != plumbing or not self._plumbing_intact(spec, bridge):
            self._ensure_plumbing(spec)
        pid = self.pid(spec.id)
        previous = state.get("args")
        if pid is not None and previous == digest:
            if state.get("plumbing") != plumbing:
                state_file.write_text(json.dumps({**state, "plumbing": plumbing}))
            if files_changed:
                os.kill(pid, signal.SIGHUP)
            self._served[spec.id] = (spec, hosts, opts, digest)
            return "updated" if files_changed else "unchanged"
        outcome = "started" if previous is None else "restarted"
        if pid is not None:
            self._stop(spec.id, pid)
        self._start(spec.id, args)
        state_file.write_text(json.dumps({"args": digest, "plumbing": plumbing}))
        self._apply_nft()
        self._served[spec.id] = (spec, hosts, opts, digest)
        return outcome

    def remove(self, network_id: str) -> bool:
        """Stop the network's responder and delete its namespace, veth and files.

        Returns whether anything was there. Idempotent.
        """
        found = False
        self._served.pop(network_id, None)
        pid = self.pid(network_id)
        if pid is not None:
            self._stop(network_id, pid)
            found = True
        namespace = self.namespace(network_id)
        if namespace in self._namespaces():
            self._kill_strays(namespace)
            _run("ip", "netns", "del", namespace, check=False)
            found = True
        veth = veth_name(network_id)
        if self._has_veth(veth):
            self._ip("link", "del", veth, check=False)
            found = True
        if self._dir(network_id).exists():
            shutil.rmtree(self._dir(network_id), ignore_errors=True)
            found = True
        # Nothing found: nothing to tidy (a network with no responder here costs no
        # process; sync owns the table otherwise).
        if found and not self._known_ids():
            self._drop_nft()
            with contextlib.suppress(OSError):  # made by the first responder; empty now
                self.state_dir.rmdir()
        return found

    def sync(self, desired: Iterable[config.NetworkSpec]) -> DhcpSyncReport:
        """Make this host's responders exactly ``desired``: start, restart, update, remove.

        Removes only what carries this component's names (its namespace prefix,
        the ``dhv`` veth prefix, its state directory), and re-creates its
        nftables table.
        """
        report = DhcpSyncReport()
        wanted = {spec.id: spec for spec in desired if spec.wanted}
        for network_id in sorted(self._known_ids() - set(wanted)):
            if self.remove(network_id):
                report.removed.append(network_id)
        keep_ns = {self.namespace(i) for i in wanted}
        swept = set()
        for namespace in self._namespaces() - keep_ns:
            self._kill_strays(namespace)
            _run("ip", "netns", "del", namespace, check=False)
            report.removed.append(namespace)
            swept.add(namespace[-8:])
        # Only the veths of namespaces swept here: another manager's are not ours.
        keep_veths = {veth_name(i) for i in wanted}
        for veth in self._host_veths() - keep_veths:
            if veth[len(VETH_PREFIX):len(VETH_PREFIX) + 8] in swept:
                self._ip("link", "del", veth, check=False)
                report.removed.append(veth)
        for network_id, spec in sorted(wanted.items()):
            try:
                outcome = self.ensure(spec)
            except (DhcpError, OSError) as error:
                report.errors[network_id] = str(error)
                continue
            changed = {"started": report.started, "restarted": report.restarted,
                       "updated": report.updated}.get(outcome)
            if changed is not None:
                changed.append(network_id)
        if self._known_ids():
            self._apply_nft()
        else:
            self._drop_nft()
        return report

    def pid(self, network_id: str) -> int | None:
        """The pid of the network's running dnsmasq, or None (checked, not trusted)."""
        pid_file = str(self._pid_file(network_id))
        try:
            pid = int(_read_bytes(pid_file).strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_dnsmasq(pid, pid_file) else None

    def running(self) -> dict[str, int]:
        """Network id to pid of every responder running now."""
        return {i: pid for i in self._known_ids() if (pid := self.pid(i)) is not None}

    def close(self) -> None:
        """Release the manager; running responders stay (host state, like bridges)."""

    # -- plumbing -------------------------------------------------------------

    def _ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ("ip", "-n", self.host_netns) if self.host_netns else ("ip",)
        return _run(*prefix, *args, check=check)

    def _namespaces(self) -> set[str]:
        try:
            entries = os.listdir(NETNS_DIR)
        except FileNotFoundError:
            return set()
        return {e for e in entries if e.startswith(self.namespace_prefix)
                and len(e) == len(self.namespace_prefix) + 8}

    def _host_veths(self) -> set[str]:
        out = self._ip("-j", "link", "show", "type", "veth", check=False)
        return {e["ifname"] for e in json.loads(out.stdout or "[]")
                if e["ifname"].startswith(VETH_PREFIX)}

    def _has_veth(self, veth: str) -> bool:
        if self.get_link is not None:
            return self.get_link(veth) is not None
        return veth in self._host_veths()

    def _known_ids(self) -> set[str]:
        try:
            return {p.name for p in self.state_dir.iterdir() if p.is_dir()}
        except FileNotFoundError:
            return set()

    def _plumbing_intact(self, spec: config.NetworkSpec, bridge: Any | None = None) -> bool:
        """One cheap check for the update path: namespace there, veth up on the bridge.

        ``bridge``: the bridge's link when the caller has just read it.
        """
        if not os.path.exists(os.path.join(NETNS_DIR, self.namespace(spec.id))):
            return False
        if self.get_link is not None:
            veth = self.get_link(veth_name(spec.id))
            if bridge is None or bridge.name != spec.bridge:
                bridge = self.get_link(spec.bridge)
            return (veth is not None and bridge is not None and veth.up
                    and veth.master == bridge.index)
        out = self._ip("-o", "link", "show", "dev", veth_name(spec.id), check=False)
        return out.returncode == 0 and f"master {spec.bridge} " in out.stdout and (
            "state UP" in out.stdout or ",UP" in out.stdout)

    def _ensure_plumbing(self, spec: config.NetworkSpec) -> None:
        namespace = self.namespace(spec.id)
        veth = veth_name(spec.id)
        inner = config.RESPONDER_IFNAME
        if self._ip("link", "show", "dev", spec.bridge, check=False).returncode != 0:
            raise DhcpError(f"bridge {spec.bridge} of network {spec.id} does not exist")
        if namespace not in self._namespaces():
            _run("ip", "netns", "add", namespace)
            _run("ip", "netns", "exec", namespace, "sysctl", "-q", "-w",
                 "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
            _run("ip", "-n", namespace, "link", "set", "lo", "up")
        if self._ip("link", "show", "dev", veth, check=False).returncode != 0:
            _run("ip", "-n", namespace, "link", "del", inner, check=False)
            self._ip("link", "add", veth, "type", "veth", "peer", "name", inner,
                     "netns", namespace)
        self._ip("link", "set", veth, "mtu", str(spec.mtu), "master", spec.bridge, "up")
        _run("ip", "-n", namespace, "link", "set", inner, "address",
             config.responder_mac(spec.id), "mtu", str(spec.mtu), "up")
        out = _run("ip", "-n", namespace, "-j", "addr", "show", "dev", inner)
        have = {f"{a['local']}/{a['prefixlen']}"
                for e in json.loads(out.stdout or "[]") for a in e.get("addr_info", [])
                if a.get("scope") == "global"}
        want = set(config.responder_addresses(spec))
        for address in sorted(have - want):
            _run("ip", "-n", namespace, "addr", "del", address, "dev", inner)
        for address in sorted(want - have):
            _run("ip", "-n", namespace, "addr", "add", address, "dev", inner, "nodad")

    def _start(self, network_id: str, args: list[str]) -> None:
        namespace = self.namespace(network_id)
        errors = self._dir(network_id) / "stderr"
        with open(errors, "w") as err:
            result = subprocess.run(["ip", "netns", "exec", namespace, self.dnsmasq, *args],
                                    stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        if result.returncode != 0:
            raise DhcpError(f"dnsmasq for network {network_id} failed to start "
                            f"({result.returncode}): {errors.read_text().strip()}")
        deadline = time.monotonic() + _STOP_TIMEOUT
        while self.pid(network_id) is None:
            if time.monotonic() > deadline:
                raise DhcpError(f"dnsmasq for network {network_id} wrote no pid file")
            time.sleep(0.02)
        LOG.info("DHCP responder of network %s started (pid %s)", network_id,
                 self.pid(network_id))

    def _stop(self, network_id: str, pid: int) -> None:
        _terminate(pid)
        self._pid_file(network_id).unlink(missing_ok=True)

    def _kill_strays(self, namespace: str) -> None:
        """Stop dnsmasq processes left in one of our namespaces (e.g. its pid file lost)."""
        out = _run("ip", "netns", "pids", namespace, check=False)
        for word in out.stdout.split():
            argv = _cmdline(int(word))
            if argv and Path(argv[0]).name == DNSMASQ:
                _terminate(int(word))

    def _apply_nft(self) -> None:
        _run(*self._exec(), "nft", "-f", "-", input_text=nft_ruleset())

    def _drop_nft(self) -> None:
        _run(*self._exec(), "nft", "delete", "table", NFT_FAMILY, NFT_TABLE, check=False)

    def _exec(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.host_netns) if self.host_netns else ()


def _run(*cmd: str, check: bool = True,
         input_text: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(list(cmd), capture_output=True, text=True, input=input_text)
    if check and result.returncode != 0:
        raise DhcpError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result


def _write_if_changed(path: Path, text: str) -> bool:
    """Rewrite ``path`` in place when its content differs; whether it did.

    In place, not written aside and renamed over: on ext4 a rename over an
    existing file (and a truncation to zero) forces the new data to disk,
    about 1.4 ms per port plugged on a busy disk against 30 us for this.
    dnsmasq reads the file only when started or sent SIGHUP, which the caller
    does after this returns, under the driver's lock; a write cut short (a
    crash) differs from what is wanted and is rewritten by the next call.
    """
    data = text.encode()
    try:
        if _read_bytes(str(path)) == data:
            return False
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    return True


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(_read_bytes(str(path)))
    except (OSError, ValueError):
        return {}


def _read_bytes(path: str) -> bytes:
    """A small file's content, with plain system calls (on every plug's responder check)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        return data
    finally:
        os.close(fd)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = _read_bytes(f"/proc/{pid}/cmdline")
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    """Running and not a zombie (our parent may not reap daemons' children)."""
    try:
        status = _read_bytes(f"/proc/{pid}/stat").decode(errors="replace")
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _is_our_dnsmasq(pid: int, pid_file: str) -> bool:
    argv = _cmdline(pid)
    return (bool(argv) and Path(argv[0]).name == DNSMASQ
            and f"--pid-file={pid_file}" in argv and _alive(pid))


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL after a grace period; returns when the process is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + _STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.02)
