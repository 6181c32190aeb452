"""A DHCP lab: host namespaces with bridges, namespace guests running udhcpc.

The tests build the host side themselves (a bridge ``brq...`` per network,
a VXLAN device between hosts, a ``nvh...`` veth per namespace guest), as
the Linux bridge driver would, and run a :class:`DhcpManager` per host
against it. A guest asks with busybox ``udhcpc``; its script appends one
JSON line per event to a file the test reads. Everything (namespaces,
responders, processes) is removed by :meth:`DhcpLab.cleanup`, also after a
failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from naas_lib.drivers.linuxbridge import dhcp_config as config
from naas_lib.drivers.linuxbridge import names
from naas_lib.drivers.linuxbridge.dhcp import DhcpManager
from tests.functional.netns import add_namespace
from tests.functional.netns import run as sh
from tests.support.ci import require_root, unavailable

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc event hook: record what the server said, apply the address.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    ;;
esac
printf '{"event":"%s","ip":"%s","mask":"%s","router":"%s","dns":"%s","mtu":"%s",\
"routes":"%s","lease":"%s","serverid":"%s"}\\n' "$1" "$ip" "$mask" "$router" "$dns" \
"$mtu" "$staticroutes" "$lease" "$serverid" >> "$LOG"
"""


def need(*programs: str) -> None:
    """Root and the programs, or skip; under CI=true their absence is a failure."""
    require_root("a DHCP functional test")
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        unavailable(f"DHCP functional tests: missing {', '.join(missing)} "
                    "(run tools/install-system-packages.sh)")


class Guest:
    """A namespace guest: ``eth0`` with a port's MAC, on a host's bridge."""

    def __init__(self, lab: DhcpLab, netns: str, mac: str) -> None:
        self.lab, self.netns, self.mac = lab, netns, mac
        self.log = lab.tmp / f"{netns}.events"
        self.daemon: subprocess.Popen | None = None

    def ask(self, timeout: int = 4) -> dict | None:
        """One udhcpc exchange (quit after lease); the lease, or None when nobody answered."""
        self.log.unlink(missing_ok=True)
        result = subprocess.run(
            ["ip", "netns", "exec", self.netns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q",
             "-f", "-t", str(timeout), "-T", "1", "-A", "1", "-O", "mtu", "-O", "staticroutes",
             "-s", str(self.lab.script)], capture_output=True, text=True,
            env={**os.environ, "LOG": str(self.log)}, timeout=timeout * 3 + 5)
        leases = [e for e in self.events() if e["event"] == "bound"]
        return leases[-1] if result.returncode == 0 and leases else None

    def start(self) -> None:
        """A long-running udhcpc, renewing on SIGUSR1 (as a guest would at T1)."""
        self.log.unlink(missing_ok=True)
        self.daemon = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "busybox", "udhcpc", "-i", "eth0", "-f",
             "-t", "5", "-T", "1", "-A", "1", "-O", "mtu", "-O", "staticroutes",
             "-s", str(self.lab.script)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, "LOG": str(self.log)})
        self.lab.processes.append(self.daemon)

    def udhcpc_pid(self) -> int:
        out = sh("ip", "netns", "pids", self.netns).stdout.split()
        for pid in out:
            if "udhcpc" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return int(pid)
        raise AssertionError("no udhcpc in " + self.netns)

    def renew(self) -> None:
        os.kill(self.udhcpc_pid(), signal.SIGUSR1)

    def events(self) -> list[dict]:
        try:
            return [json.loads(line) for line in self.log.read_text().splitlines()]
        except FileNotFoundError:
            return []

    def wait_event(self, predicate, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.1)
        raise AssertionError(f"no matching udhcpc event in {self.events()}")


class DhcpLab:
    """Hosts, guests and responders of one test."""

    def __init__(self, tmp: Path) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.tmp = tmp
        self.namespaces: list[str] = []
        self.managers: list[DhcpManager] = []
        self.processes: list[subprocess.Popen] = []
        self.switch: str | None = None
        self.script = tmp / "udhcpc.sh"
        self.script.write_text(UDHCPC_SCRIPT)
        self.script.chmod(0o755)

    def netns(self, role: str) -> str:
        return add_namespace(f"ndh-{role}-{self.tag}", self.namespaces)

    def host(self, index: int) -> tuple[str, DhcpManager]:
        """A host namespace on the underlay switch, with its own DhcpManager."""
        if self.switch is None:
            self.switch = self.netns("sw")
            sh("ip", "-n", self.switch, "link", "add", "sw0", "type", "bridge")
            sh("ip", "-n", self.switch, "link", "set", "sw0", "up")
        ns = self.netns(f"h{index}")
        sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p{index}",
           "netns", self.switch)
        sh("ip", "-n", self.switch, "link", "set", f"p{index}", "master", "sw0", "up")
        sh("ip", "-n", ns, "addr", "add", f"192.0.2.{index}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        manager = DhcpManager(self.tmp / f"dhcp-h{index}", host_netns=ns)
        self.managers.append(manager)
        return ns, manager

    def network(self, host_ns: str, network_id: str, mtu: int = 1450, vni: int | None = None,
                peers: tuple[int, ...] = ()) -> str:
        """The network's bridge on a host; with ``vni`` a VXLAN uplink flooding to ``peers``."""
        bridge = names.bridge(network_id)
        sh("ip", "-n", host_ns, "link", "add", bridge, "mtu", str(mtu), "type", "bridge")
        sh("ip", "-n", host_ns, "link", "set", bridge, "up")
        if vni is not None:
            vx = names.vxlan(network_id)
            local = sh("ip", "-n", host_ns, "-j", "addr", "show", "dev", "eth0").stdout
            source = json.loads(local)[0]["addr_info"][0]["local"]
            sh("ip", "-n", host_ns, "link", "add", vx, "mtu", str(mtu), "type", "vxlan",
               "id", str(vni), "local", source, "dstport", "4789", "dev", "eth0")
            for peer in peers:
                sh("bridge", "-n", host_ns, "fdb", "append", "00:00:00:00:00:00", "dev", vx,
                   "dst", f"192.0.2.{peer}")
            sh("ip", "-n", host_ns, "link", "set", vx, "master", bridge, "up")
        return bridge

    def guest(self, host_ns: str, bridge: str, port_id: str, mac: str,
              mtu: int = 1500) -> Guest:
        """A namespace guest whose ``eth0`` (with ``mac``) is the peer of ``nvh<port>``."""
        ns = self.netns("g" + port_id[:4])
        device = names.veth_host(port_id)
        sh("ip", "-n", host_ns, "link", "add", device, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac, "mtu", str(mtu), "up")
        sh("ip", "-n", host_ns, "link", "set", device, "master", bridge, "up")
        return Guest(self, ns, mac)

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for manager in self.managers:
            try:
                manager.sync([])
            except Exception:  # cleanup must go on
                pass
        for name in reversed(self.namespaces):
            sh("ip", "netns", "pids", name, check=False)
            for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sh("ip", "netns", "del", name, check=False)


def subnet(subnet_id: str, cidr: str, server: str, **kwargs) -> config.SubnetSpec:
    return config.SubnetSpec(id=subnet_id, cidr=cidr, ip_version=4, server_address=server,
                             **kwargs)


def new_id() -> str:
    return str(uuid.uuid4())


def lab_for(tmp_path: Path):
    """Generator behind each test module's ``dhcp_lab`` fixture: a :class:`DhcpLab`
    whose namespaces and responders go away after the test, also on failure."""
    need("dnsmasq", "busybox", "nft", "dhclient")
    lab = DhcpLab(tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()
