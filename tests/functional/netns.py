"""Namespaces for the linuxbridge functional tests, always removed afterwards.

A :class:`Lab` hands out uniquely named namespaces ("hosts", "guests", a
"switch") and remembers them; :meth:`Lab.cleanup` deletes them all, which
also deletes every device inside. Use it through the ``lab`` fixture, whose
``finally`` runs the cleanup when a test fails too.

A host is a namespace with an underlay interface ``phys0`` whose veth peer
sits on the switch namespace's bridge; its driver works inside it through
``[linuxbridge] netns``. A guest is a namespace that a port's veth reaches.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator

from naas_lib import NetworkService

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
    """True when ``address`` answers one echo request sent from ``netns``."""
    cmd = ["ip", "netns", "exec", netns, "ping", "-n", "-q", "-c1", "-W1",
           "-w", str(deadline), address]
    return subprocess.run(cmd, capture_output=True).returncode == 0


class Lab:
    """The namespaces and services of one test."""

    def __init__(self, tmp_path) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.database_url = f"sqlite:///{tmp_path}/naas.sqlite"
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
            flat_networks=["*"], linuxbridge={"netns": ns, **driver_options})
        self.services.append(svc)
        return svc, ns

    @staticmethod
    def endpoint(index: int) -> str:
        return f"{UNDERLAY}{index}"

    def cleanup(self) -> None:
        for svc in self.services:
            with contextlib.suppress(Exception):
                svc.close()
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
