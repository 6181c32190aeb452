"""Simulated hosts for functional tests: namespaces joined by an underlay switch.

Each host is a network namespace with an ``eth0`` whose peer sits in a
switch namespace on one bridge; the host's service runs in the test process
with the linuxbridge driver pointed at the host namespace (``[linuxbridge]
netns``) and its VXLAN endpoint on ``eth0``. Guests are namespaces of their
own. Every namespace has a unique name and :meth:`Topology.cleanup` removes
them all (which removes every device inside), also after a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable

import pytest

from naas_lib import NetworkService
from naas_lib.cli import pinging

UNDERLAY_PREFIX = "192.0.2."


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def ping(netns: str, address: str, size: int | None = None, dont_fragment: bool = False,
         deadline: int = 3) -> bool:
    """One echo reply from ``address`` inside ``netns`` within ``deadline`` seconds (asked
    again after an ICMP error until the deadline: :mod:`naas_lib.cli.pinging`)."""
    return pinging.ping(netns, address, deadline, size=size, dont_fragment=dont_fragment)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.2) -> float:
    """Seconds until ``predicate`` held; raises AssertionError after ``timeout``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)


def within_rounds(loops: list, rounds: int, predicate: Callable[[], bool],
                  stall_timeout: float = 60.0) -> None:
    """Wait until ``predicate`` holds, which it must within ``rounds`` rounds of every loop.

    Rounds are counted from the call, per sync loop (``SyncLoop.rounds``); a
    round already running then counts as the first. This bounds the cost of
    convergence in reconciliation rounds, which a busy machine does not
    stretch, instead of seconds. ``stall_timeout`` only catches loops that
    stopped running rounds at all.
    """
    start = [loop.rounds for loop in loops]
    deadline = time.monotonic() + stall_timeout
    while True:
        done = [loop.rounds - first for loop, first in zip(loops, start, strict=True)]
        if predicate():
            return
        if min(done) >= rounds:
            raise AssertionError(f"condition not met within {rounds} rounds of every loop "
                                 f"(rounds run since: {done})")
        if time.monotonic() > deadline:
            raise AssertionError(f"sync loops stalled: rounds run since {done}")
        time.sleep(0.05)


class Topology:
    """Namespaces of one test, all removed by :meth:`cleanup`."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces: list[str] = []
        self.switch: str | None = None
        self.services: list[NetworkService] = []
        #: The DHCP responders' files of every host of this topology.
        self.dhcp_state = tempfile.mkdtemp(prefix=f"naas-dhcp-{self.tag}-")

    def netns(self, role: str) -> str:
        name = f"naas-{role}-{self.tag}"
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def guest(self, role: str) -> str:
        return self.netns(role)

    def host(self, index: int, database_url: str, **options) -> NetworkService:
        """Host ``h<index>`` on the underlay with its own service (linuxbridge driver)."""
        if self.switch is None:
            self.switch = self.netns("sw")
            ip("-n", self.switch, "link", "add", "sw0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "sw0", "up")
        ns = self.netns(f"h{index}")
        peer = f"p{index}"
        ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer,
           "netns", self.switch)
        ip("-n", self.switch, "link", "set", peer, "master", "sw0", "up")
        ip("-n", ns, "addr", "add", f"{self.endpoint(index)}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        options.setdefault("linuxbridge", {})
        options["linuxbridge"] = {"netns": ns, "vxlan_endpoint": self.endpoint(index),
                                  "dhcp_state_path": self.dhcp_state,
                                  **options["linuxbridge"]}
        svc = NetworkService.from_settings(database_url=database_url, driver="linuxbridge",
                                           host=f"h{index}", **options)
        self.services.append(svc)
        return svc

    @staticmethod
    def endpoint(index: int) -> str:
        return f"{UNDERLAY_PREFIX}{index}"

    def host_ns(self, index: int) -> str:
        return f"naas-h{index}-{self.tag}"

    def flood_entries(self, index: int, vxlan_device: str) -> set[str]:
        """Underlay addresses the host's VXLAN device floods to (all-zero MAC entries)."""
        out = subprocess.run(["bridge", "-n", self.host_ns(index), "-j", "fdb", "show",
                              "dev", vxlan_device], capture_output=True, text=True)
        if out.returncode != 0:
            return set()
        return {e["dst"] for e in json.loads(out.stdout or "[]")
                if e.get("mac") == "00:00:00:00:00:00" and e.get("dst")}

    def links(self, netns: str) -> set[str]:
        out = ip("-n", netns, "-j", "link", "show", check=False)
        return {e["ifname"] for e in json.loads(out.stdout or "[]")}

    def master_of(self, netns: str, device: str) -> str | None:
        """The name of the bridge ``device`` is enslaved to, or None."""
        out = ip("-n", netns, "-j", "link", "show", "dev", device, check=False)
        entries = json.loads(out.stdout or "[]")
        return entries[0].get("master") if entries else None

    def cleanup(self) -> None:
        for svc in self.services:
            try:
                svc.close()
            except Exception:  # cleanup must go on
                pass
        for name in reversed(self.namespaces + self.responder_namespaces()):
            for pid in ip("netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            ip("netns", "del", name, check=False)
        shutil.rmtree(self.dhcp_state, ignore_errors=True)

    def responder_namespaces(self) -> list[str]:
        """The DHCP responders' namespaces of this topology's hosts (``naasdhcp-<host>-``)."""
        listed = ip("netns", "list", check=False).stdout.split()
        return [n for n in listed if n.startswith("naasdhcp-")
                and any(n.startswith(f"naasdhcp-{h}-") for h in self.namespaces)]


@pytest.fixture
def topo():
    """A fresh simulated-hosts topology, removed after the test even on failure."""
    topology = Topology()
    try:
        yield topology
    finally:
        topology.cleanup()
