"""Namespaces for the linuxbridge functional tests, always removed afterwards.

A :class:`Lab` hands out uniquely named namespaces ("hosts", "guests", a
"switch") and remembers them; :meth:`Lab.cleanup` deletes them all, which
also deletes every device inside. Use it through the ``lab`` fixture, whose
``finally`` runs the cleanup when a test fails too.

Every host's service keeps its DHCP responders' files under the lab's own
``dhcp_state_path``; :func:`remove_responders` is the safety net that stops
whatever responder of the lab's hosts is still running at cleanup.

A host is a namespace with an underlay interface ``phys0`` whose veth peer
sits on the switch namespace's bridge; its driver works inside it through
``[linuxbridge] netns``. A guest is a namespace that a port's veth reaches.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from naas_lib import NetworkService
from naas_lib.cli import pinging
from naas_lib.drivers.linuxbridge import dhcp

UNDERLAY = "198.51.100."


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def add_namespace(name: str, made: list[str]) -> str:
    """Create network namespace ``name`` with its loopback up; recorded in ``made`` first."""
    run("ip", "netns", "add", name)
    made.append(name)
    run("ip", "-n", name, "link", "set", "lo", "up")
    return name


def ping(netns: str, address: str, deadline: int = 2) -> bool:
    """True when ``address`` answers an echo request sent from ``netns`` within ``deadline`` s
    (asked again after an ICMP error until the deadline: :mod:`naas_lib.cli.pinging`)."""
    return pinging.ping(netns, address, deadline)


def responder_namespaces(scopes: Iterable[str]) -> list[str]:
    """DHCP responder namespaces of the given driver scopes (host namespaces or host names)."""
    prefixes = tuple(dhcp.namespace_prefix(scope) for scope in scopes)
    listed = run("ip", "netns", "list", check=False).stdout.split()
    return [n for n in listed if prefixes and n.startswith(prefixes)]


def dnsmasq_pids(state_path: str | os.PathLike) -> list[int]:
    """dnsmasq processes whose pid file lies under ``state_path``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"dnsmasq" and any(
                a.startswith(b"--pid-file=" + os.fsencode(state_path)) for a in argv):
            found.append(int(entry))
    return found


def remove_responders(state_path: str | os.PathLike, scopes: Iterable[str]) -> list[str]:
    """Safety net: stop every DHCP responder of ``scopes`` and remove ``state_path``.

    Touches only namespaces named after the fixture's own unique scopes and
    processes whose pid file is under the fixture's own state directory.
    Returns what it found (the driver should have left nothing).
    """
    found = []
    for name in responder_namespaces(scopes):
        found.append(f"namespace {name}")
        for pid in run("ip", "netns", "pids", name, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        run("ip", "netns", "del", name, check=False)
    for pid in dnsmasq_pids(state_path):
        found.append(f"dnsmasq {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(state_path, ignore_errors=True)
    return found


class Lab:
    """The namespaces and services of one test."""

    def __init__(self, tmp_path) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.database_url = f"sqlite:///{tmp_path}/naas.sqlite"
        self.dhcp_state = Path(tmp_path) / "dhcp"
        self.namespaces: list[str] = []
        self.services: list[NetworkService] = []
        self.switch: str | None = None

    def netns(self, role: str) -> str:
        return add_namespace(f"nlb-{role}-{self.tag}", self.namespaces)

    def host(self, index: int, underlay: bool = False, **driver_options) -> tuple[
            NetworkService, str]:
        """A host namespace and its service; with ``underlay`` it is wired to the switch."""
        ns = self.netns(f"h{index}")
        if underlay:
            if self.switch is None:
                self.switch = self.netns("sw")
                run("ip", "-n", self.switch, "link", "add", "sw0", "type", "bridge")
                run("ip", "-n", self.switch, "link", "set", "sw0", "up")
            peer = f"sw{index}"
            run("ip", "-n", ns, "link", "add", "phys0", "type", "veth", "peer", "name", peer,
                "netns", self.switch)
            run("ip", "-n", self.switch, "link", "set", peer, "master", "sw0", "up")
            run("ip", "-n", ns, "addr", "add", f"{self.endpoint(index)}/24", "dev", "phys0")
            run("ip", "-n", ns, "link", "set", "phys0", "up")
        svc = NetworkService.from_settings(
            database_url=self.database_url, driver="linuxbridge", host=f"h{index}",
            flat_networks=["*"], linuxbridge={"netns": ns, "dhcp_state_path": str(
                self.dhcp_state), **driver_options})
        self.services.append(svc)
        return svc, ns

    @staticmethod
    def endpoint(index: int) -> str:
        return f"{UNDERLAY}{index}"

    def cleanup(self) -> None:
        for svc in self.services:
            with contextlib.suppress(Exception):
                svc.close()
        remove_responders(self.dhcp_state, self.namespaces)
        for name in reversed(self.namespaces):
            run("ip", "netns", "del", name, check=False)


@contextlib.contextmanager
def lab_for(tmp_path) -> Iterator[Lab]:
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()


def link_names(netns: str) -> set[str]:
    out = run("ip", "-n", netns, "-o", "link", "show")
    return {line.split(": ")[1].split("@")[0] for line in out.stdout.splitlines()}
