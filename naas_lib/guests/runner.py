"""Run one guest of :mod:`.image` under QEMU on existing tap devices, and read its console.

QEMU (``microvm`` machine, TCG) opens each tap by name with
``script=no,downscript=no``, as libvirt does for the library's
``<interface type='ethernet'>`` with ``managed='no'``; the library's driver
made the taps when it plugged the ports. The serial console is written to a
file that :meth:`Guest.wait_for` reads. :meth:`Guest.stop` returns only when
the QEMU process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from naas_lib.guests.image import QEMU, GuestImage

MEMORY_MIB = 256


class GuestError(RuntimeError):
    """A guest exited, or did not print what was awaited in time."""


def host_khz() -> int:
    """The host TSC frequency in kHz (microvm may hang calibrating without it)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return int(float(line.split(":")[1]) * 1000)
    return 2_000_000


def parse_events(console: str, tag: str) -> list[dict[str, str]]:
    """Every ``tag key=value ...`` console line, as dicts (``NAAS-LEASE``, ``NAAS-PING``)."""
    return [dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            for line in console.splitlines() if line.split()[:1] == [tag]]


class Guest:
    """One QEMU process running the guest image with NICs on existing taps.

    ``nics`` are (tap name, MAC) pairs; ``append`` is added to the kernel
    command line (for example ``naas.ping=...``); ``netns`` runs QEMU in that
    namespace (where the taps are), None in the caller's.
    """

    def __init__(self, name: str, nics: Sequence[tuple[str, str]], image: GuestImage,
                 workdir: str | os.PathLike, netns: str | None = None, append: str = "",
                 memory_mib: int = MEMORY_MIB) -> None:
        self.name, self.nics, self.image, self.netns = name, list(nics), image, netns
        self.workdir = Path(workdir)
        self.append = append
        self.memory_mib = memory_mib
        self.console_path = self.workdir / f"{name}.console"
        self.output_path = self.workdir / f"{name}.out"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The QEMU command line."""
        append = (f"console=ttyS0 quiet panic=-1 tsc_early_khz={host_khz()} "
                  f"rdinit=/init naas.nics={len(self.nics)} {self.append}").strip()
        cmd = [QEMU, "-M", "microvm", "-accel", "tcg", "-m", str(self.memory_mib), "-smp", "1",
               "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
               "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
               "-append", append, "-serial", f"file:{self.console_path}"]
        for index, (tap, mac) in enumerate(self.nics):
            cmd += ["-netdev", f"tap,id=n{index},ifname={tap},script=no,downscript=no",
                    "-device", f"virtio-net-device,netdev=n{index},mac={mac}"]
        return cmd

    def start(self) -> Guest:
        """Start QEMU (in its own session, so :meth:`stop` can end all of it)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.console_path.write_text("")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        with open(self.output_path, "wb") as out:
            self.process = subprocess.Popen(prefix + self.command(), stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    def console(self) -> str:
        """Everything the guest printed on its serial console so far."""
        try:
            return self.console_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """The first match of ``pattern`` on the console; GuestError on exit or timeout."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.console())
            if match:
                return match
            if self.process is not None and self.process.poll() is not None:
                raise GuestError(f"QEMU of {self.name} exited ({self.process.returncode}): "
                                 f"{self._output()}")
            if time.monotonic() > deadline:
                raise GuestError(f"{self.name} did not print {pattern!r} within {timeout:.0f} s"
                                 f"; console ends: {self.console()[-400:]!r}")
            time.sleep(0.05)

    def events(self, tag: str) -> list[dict[str, str]]:
        """The console's ``tag`` lines so far (see :func:`parse_events`)."""
        return parse_events(self.console(), tag)

    def lease(self, interface: str, timeout: float) -> dict[str, str]:
        """The first DHCP lease the guest reported for ``interface``."""
        self.wait_for(rf"^NAAS-LEASE if={interface} event=bound ip=\S", timeout)
        return next(e for e in self.events("NAAS-LEASE")
                    if e.get("if") == interface and e.get("event") == "bound")

    def _output(self) -> str:
        try:
            return self.output_path.read_text(errors="replace").strip()[-400:]
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to QEMU's session, SIGKILL after 3 s; returns when QEMU is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
