"""A bridge "host" namespace with namespace guests, for the port security tests.

Each host is a namespace with a bridge ``br0`` and the br_netfilter settings
turned on inside it (only there); each guest is a namespace whose ``eth0``
is the peer of a veth on the bridge. A :class:`PortSecurity` programs the
host. Everything is removed by :meth:`PortsecLab.cleanup`, also after a
failure.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from naas_lib.cli import pinging
from naas_lib.drivers.linuxbridge import netlink as nl
from naas_lib.drivers.linuxbridge.portsec import (
    PortSecurity,
    PortSpec,
    TrustedResponders,
)
from tests.functional.netns import add_namespace
from tests.functional.netns import run as sh
from tests.support.ci import require_root

NET4 = "10.90.0."
NET6 = "fd00:90::"


def in_ns(ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *cmd, check=check)


def ping(ns: str, address: str, source: str | None = None, deadline: int = 2) -> bool:
    """An echo reply within ``deadline`` s, asked again after an ICMP error
    (:mod:`naas_lib.cli.pinging`)."""
    return pinging.ping(ns, address, deadline, source=source)


@dataclass
class Guest:
    name: str
    ns: str
    device: str
    mac: str
    index: int

    @property
    def ip(self) -> str:
        return f"{NET4}{self.index}"

    @property
    def ip6(self) -> str:
        return f"{NET6}{self.index}"

    def spec(self, groups: tuple[str, ...] = (), pairs=(), enabled: bool = True) -> PortSpec:
        return PortSpec(self.device, self.mac, (self.ip, self.ip6), tuple(pairs), enabled,
                        groups)


class PortsecLab:
    """Hosts (bridge namespaces) and guests of one test."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:5]
        self.namespaces: list[str] = []
        self.guests: dict[str, Guest] = {}
        self.threads: list[socket.socket] = []
        self.programmers: list[PortSecurity] = []

    def netns(self, role: str) -> str:
        return add_namespace(f"ps-{role}-{self.tag}", self.namespaces)

    def host(self, index: int = 1, prefixes: tuple[str, ...] = ()) -> tuple[str, PortSecurity]:
        ns = self.netns(f"h{index}")
        sh("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns, "link", "set", "br0", "up")
        in_ns(ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1",
              "net.bridge.bridge-nf-call-ip6tables=1")
        ps = PortSecurity(ns, TrustedResponders(prefixes=prefixes))
        self.programmers.append(ps)
        return ns, ps

    def guest(self, host_ns: str, name: str, index: int, device: str | None = None) -> Guest:
        ns = self.netns(f"g{name}")
        device = device or f"nvh{name}{self.tag}"
        mac = f"fa:16:3e:90:00:{index:02x}"
        sh("ip", "-n", host_ns, "link", "add", device, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        sh("ip", "-n", host_ns, "link", "set", device, "master", "br0", "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
        guest = Guest(name, ns, device, mac, index)
        sh("ip", "-n", ns, "addr", "add", f"{guest.ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{guest.ip6}/64", "dev", "eth0", "nodad")
        self.guests[name] = guest
        return guest

    def listen(self, ns: str, port: int, udp: bool = False, address: str = "0.0.0.0",
               family: int = socket.AF_INET) -> socket.socket:
        """A socket bound inside ``ns``; TCP ones echo every connection in a thread."""
        with nl.entered(ns):
            s = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        self.threads.append(s)
        if not udp:
            s.listen(16)
            threading.Thread(target=_echo_server, args=(s,), daemon=True).start()
        return s

    def connect(self, ns: str, address: str, port: int, timeout: float = 1.5,
                family: int = socket.AF_INET) -> socket.socket | None:
        """A TCP connection from ``ns`` (None when it is not established in ``timeout``)."""
        with nl.entered(ns):
            s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((address, port))
        except OSError:
            s.close()
            return None
        self.threads.append(s)
        return s

    def udp_send(self, ns: str, source_port: int, address: str, port: int,
                 payload: bytes = b"x") -> None:
        with nl.entered(ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.bind(("0.0.0.0", source_port))
            s.sendto(payload, (address, port))

    def send_arp(self, ns: str, op: int, sender_mac: str, sender_ip: str, target_mac: str,
                 target_ip: str, count: int = 3) -> None:
        """Raw ARP frames (op 1 request, 2 reply) from ``eth0`` of ``ns`` to ``target_mac``."""
        def mac(text: str) -> bytes:
            return bytes.fromhex(text.replace(":", ""))

        frame = (mac(target_mac) + mac(sender_mac) + b"\x08\x06"
                 + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
                 + mac(sender_mac) + socket.inet_aton(sender_ip)
                 + mac(target_mac) + socket.inet_aton(target_ip))
        with nl.entered(ns):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        with s:
            s.bind(("eth0", 0))
            for _ in range(count):
                s.send(frame)
                time.sleep(0.05)

    def send_na(self, ns: str, sender_mac: str, source_ip6: str, target_ip6: str,
                dst_mac: str, dst_ip6: str, count: int = 3) -> None:
        """Unsolicited IPv6 neighbour advertisements (override set) claiming ``target_ip6``."""
        def mac(text: str) -> bytes:
            return bytes.fromhex(text.replace(":", ""))

        src = socket.inet_pton(socket.AF_INET6, source_ip6)
        dst = socket.inet_pton(socket.AF_INET6, dst_ip6)
        target = socket.inet_pton(socket.AF_INET6, target_ip6)
        body = (struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target
                + bytes([2, 1]) + mac(sender_mac))  # target link-layer address option
        pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
        total = sum(struct.unpack(f"!{len(pseudo + body) // 2}H", pseudo + body))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        body = body[:2] + struct.pack("!H", ~total & 0xFFFF) + body[4:]
        ip6 = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + src + dst
        frame = mac(dst_mac) + mac(sender_mac) + b"\x86\xdd" + ip6 + body
        with nl.entered(ns):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        with s:
            s.bind(("eth0", 0))
            for _ in range(count):
                s.send(frame)
                time.sleep(0.05)

    def cleanup(self) -> None:
        for ps in self.programmers:
            ps.close()
        for s in self.threads:
            with contextlib.suppress(OSError):
                s.close()
        for name in reversed(self.namespaces):
            sh("ip", "netns", "del", name, check=False)


def _echo_server(server: socket.socket) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=_echo, args=(conn,), daemon=True).start()


def _echo(conn: socket.socket) -> None:
    with conn:
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            conn.sendall(data)


def echoes(conn: socket.socket, payload: bytes = b"ping") -> bool:
    """True when ``conn`` still carries data both ways."""
    try:
        conn.sendall(payload)
        return conn.recv(4096) == payload
    except OSError:
        return False


def received(s: socket.socket, timeout: float = 1.0) -> bytes | None:
    s.settimeout(timeout)
    try:
        return s.recv(4096)
    except OSError:
        return None


@contextlib.contextmanager
def portsec_lab() -> Iterator[PortsecLab]:
    require_root("the port security lab")
    lab = PortsecLab()
    try:
        yield lab
    finally:
        lab.cleanup()
