"""Real Linux guests under QEMU for the tests: THE one QEMU fixture of the project.

:func:`guest_image` is the library's image builder
(:mod:`naas_lib.guests.image`: the distribution kernel's uncompressed
``vmlinux`` and a ``busybox-static`` initramfs with the virtio network
modules, booted by QEMU's ``microvm`` machine in about 2 s under TCG),
cached for the tests under ``.cache/guests/`` in the repository. Its init
brings every NIC up with DHCP (busybox ``udhcpc``; IPv6 by router
advertisements (SLAAC): Debian's static busybox has no ``udhcpc6``, so
DHCPv6 is proven with namespace guests), prints one parseable line per event
on the serial console and answers pings (the kernel does).

:class:`QemuGuest` starts a guest inside a given network namespace on
existing tap devices, opened by name as libvirt does for the library's
``<interface type='ethernet'>`` with ``managed='no'``; it reads the console
(:meth:`QemuGuest.wait_for`), talks QMP (:meth:`QemuGuest.qmp`), stops the
guest (no QEMU left behind; use it as a context manager or through
:class:`GuestPool` so failures clean up too), and can start as the
destination of a live migration (``incoming=``).

Console lines the guest prints::

    NAAS-READY nics=eth0,eth1
    NAAS-LEASE if=eth0 event=bound ip=10.0.0.5 mask=24 router=10.0.0.1 mtu=1450 ...
    NAAS-ADDR6 if=eth0 addr=2001:db8::f816:3eff:fe00:1/64
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from naas_lib.guests import image as image_lib
from naas_lib.guests import runner
from naas_lib.guests.image import (  # noqa: F401 - this fixture's interface
    BUILD_VERSION,
    BUSYBOX,
    INIT,
    LEASE,
    MODULES,
    QEMU,
    GuestImage,
    extract_vmlinux,
)
from tests.support.ci import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache" / "guests"
MEMORY_MIB = 256


def require_qemu() -> None:
    """Root, QEMU, a kernel and busybox, or skip; under CI=true their absence fails."""
    problems = image_lib.missing()
    if problems:
        message = ("QEMU guests: " + ", ".join(problems)
                   + " (run tools/install-system-packages.sh)")
        unavailable(message)


def guest_image(cache_dir: Path = CACHE_DIR) -> GuestImage:
    """The cached guest image (built by the library), built first when missing."""
    return image_lib.guest_image(cache_dir)


@dataclasses.dataclass(frozen=True)
class Nic:
    """A guest NIC on an existing tap device of the host namespace."""

    tap: str
    mac: str


class QemuGuest(runner.Guest):
    """The library's guest runner with what the tests add: a QMP socket and live migration."""

    def __init__(self, name: str, netns: str | None, nics: Sequence[Nic], workdir: Path,
                 image: GuestImage | None = None, incoming: str | None = None,
                 memory_mib: int = MEMORY_MIB, announce: bool = True) -> None:
        super().__init__(name, [(nic.tap, nic.mac) for nic in nics], image or guest_image(),
                         workdir, netns=netns, memory_mib=memory_mib)
        self.qmp_path = self.workdir / f"{name}.qmp"
        self.incoming = incoming
        #: False: as a migration's destination, announce nothing (no RARP, no
        #: gratuitous ARP asked of the guest), so only forwarding tables decide.
        self.announce = announce

    def command(self) -> list[str]:
        cmd = super().command() + ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if self.incoming:
            cmd += ["-incoming", self.incoming]
        if not self.announce:
            cmd += ["-global", "migration.announce-rounds=0"]
        return cmd

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        return super().wait_for(pattern, timeout)

    def wait_lease(self, interface: str, timeout: float = 30) -> dict[str, str]:
        """The newest DHCP lease (a renewal included) the guest reported for ``interface``."""
        self.wait_for(rf"NAAS-LEASE if={interface} event=bound ip=\S", timeout)
        return [e for e in self.events("NAAS-LEASE")
                if e["if"] == interface and e["event"] == "bound"][-1]

    def qmp(self, command: str, timeout: float = 30, **arguments) -> dict:
        """One QMP command; its ``return`` value (raises on an error reply)."""
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            # QEMU binds the socket's path before it listens: on a loaded host the
            # path can exist a while before a connection is accepted.
            while True:
                try:
                    sock.connect(str(self.qmp_path))
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"no QMP listener for {self.name}") from None
                    time.sleep(0.05)
            stream = sock.makefile("rw")
            json.loads(stream.readline())  # greeting
            for message in ({"execute": "qmp_capabilities"},
                            {"execute": command, **({"arguments": arguments}
                                                    if arguments else {})}):
                stream.write(json.dumps(message) + "\n")
                stream.flush()
                while True:
                    reply = json.loads(stream.readline())
                    if "return" in reply or "error" in reply:
                        break
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            return reply["return"]

    def migrate_to(self, destination: QemuGuest, timeout: float = 60) -> dict:
        """Live-migrate to ``destination`` (started with ``incoming=``); the final status.

        Returns QMP's ``query-migrate`` answer once it is ``completed``; the source is
        left paused (stop it).
        """
        if not destination.incoming:
            raise ValueError(f"{destination.name} was not started with incoming=")
        destination.qmp("query-status")  # its QMP socket is up: it listens
        self.qmp("migrate", uri=destination.incoming)
        deadline = time.monotonic() + timeout
        while True:
            status = self.qmp("query-migrate")
            if status.get("status") == "completed":
                return status
            if status.get("status") in ("failed", "cancelled"):
                raise AssertionError(f"migration of {self.name} {status['status']}: {status}")
            if time.monotonic() > deadline:
                raise AssertionError(f"migration of {self.name} not done in {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Quit over QMP, then the runner's signals; returns when the process is gone."""
        if not self.running():
            return
        with contextlib.suppress(Exception):
            self.qmp("quit", timeout=2)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=3)
        super().stop()

    def __enter__(self) -> QemuGuest:
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class GuestPool:
    """The QEMU guests of one test; :meth:`stop_all` stops every one, also on failure."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.guests: list[QemuGuest] = []
        self._image: GuestImage | None = None

    @property
    def image(self) -> GuestImage:
        if self._image is None:
            self._image = guest_image()
        return self._image

    def start(self, name: str, netns: str | None, nics: Sequence[Nic], **kwargs) -> QemuGuest:
        guest = QemuGuest(name, netns, nics, self.workdir, image=self.image, **kwargs)
        self.guests.append(guest)
        return guest.start()

    def stop_all(self) -> None:
        for guest in self.guests:
            with contextlib.suppress(Exception):
                guest.stop()


@contextlib.contextmanager
def guest_pool(workdir: Path) -> Iterator[GuestPool]:
    """A :class:`GuestPool` (after :func:`require_qemu`) whose guests stop on exit."""
    require_qemu()
    pool = GuestPool(workdir)
    try:
        yield pool
    finally:
        pool.stop_all()


def make_tap(netns: str | None, name: str, bridge: str, mtu: int = 1500) -> None:
    """An existing tap on ``bridge`` for QEMU to open, as the driver plugs one."""
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    subprocess.run(prefix + ["tuntap", "add", "dev", name, "mode", "tap"], check=True,
                   capture_output=True)
    subprocess.run(prefix + ["link", "set", name, "mtu", str(mtu), "master", bridge, "up"],
                   check=True, capture_output=True)
