"""``naas demo`` with real VMs: QEMU guests on the library's taps, addressed by DHCP.

Each demo instance's ports are plain tap ports (``vif_type`` tap, as Nova
boots them); the Linux bridge driver plugs the taps and, DHCP being on by
default, runs a responder for each network. A QEMU guest (:mod:`naas_lib.guests`)
opens the taps by name, gets its addresses with ``udhcpc`` and, told the
other instances' addresses on its kernel command line (``naas.ping=``), pings
each of them from each NIC and reports on its serial console what answered
and with which MAC. The demo checks that every DHCP address equals the port's
fixed IP and turns the reports into the connectivity matrix.
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from naas_lib.guests import image as guest_image
from naas_lib.guests.runner import Guest, GuestError

#: ``naas demo --guests`` choices.
MODES = ("auto", "qemu", "namespace")
#: Seconds for a guest to boot and hold a lease on every NIC (TCG, 2 shared cores).
LEASE_TIMEOUT = 60.0
#: Seconds for a guest to finish its pings once it holds its leases.
PING_TIMEOUT = 60.0

Printer = Callable[[str], None]


class QemuUnavailable(RuntimeError):
    """``--guests qemu`` was asked for and this machine cannot boot QEMU guests."""


def choose(requested: str, real: bool, say: Printer) -> str:
    """``qemu`` or ``namespace`` for a real demo (``records`` for the noop driver).

    ``auto`` takes QEMU when root and QEMU, a kernel, busybox and cpio are
    there, else namespaces, and says why; an explicit ``qemu`` that cannot
    run raises :class:`QemuUnavailable`.
    """
    if not real:
        return "records"
    if requested == "namespace":
        return "namespace"
    problems = guest_image.missing()
    if not problems:
        return "qemu"
    why = ", ".join(problems)
    if requested == "qemu":
        raise QemuUnavailable(f"QEMU guests are not possible here: {why} "
                              "(Debian: qemu-system-x86 linux-image-amd64 busybox-static cpio)")
    say(f"NOTE: QEMU guests are not possible here ({why}): the instances are network "
        "namespaces configured by the library, not VMs.")
    return "namespace"


def image(step: Printer) -> Callable[[], guest_image.GuestImage]:
    """Start getting the guest image (built in the background when the cache has none).

    Returns a function that waits for it and says where it is and how long
    the build took; the demo makes its networks and ports meanwhile.
    """
    cache = guest_image.default_cache_dir()
    cached = guest_image.is_cached(cache)
    t0 = time.monotonic()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(guest_image.guest_image, cache)
    pool.shutdown(wait=False)
    if not cached:
        step(f"building the guest image in {cache} (while the ports are made)")

    def ready() -> guest_image.GuestImage:
        built = future.result()
        how = "cached" if cached else f"built in {time.monotonic() - t0:.1f} s"
        step(f"guest image ({how}): {built.kernel.parent}")
        return built

    return ready


def guest(name: str, nics: Sequence[tuple[str, str]], targets: Sequence[str],
          built: guest_image.GuestImage, workdir: str | os.PathLike) -> Guest:
    """One guest on its taps (not started), told to ping ``targets`` from each NIC."""
    append = "naas.ping=" + ",".join(targets) if targets else ""
    return Guest(name, nics, built, Path(workdir), append=append)


def leases(guests: dict[str, Guest], nics: Sequence, step: Printer,
           say: Printer, table: Callable[[list[str], list[list]], str]) -> list[str]:
    """Wait for every NIC's DHCP lease; print them; problems when one differs from its port."""
    rows, problems = [], []
    start_at = time.monotonic()
    for nic in nics:
        guest = guests[nic.instance]
        left = max(1.0, LEASE_TIMEOUT - (time.monotonic() - start_at))
        try:
            got = guest.lease(nic.ifname, timeout=left).get("ip", "")
        except GuestError as e:
            problems.append(f"{nic.label}: no DHCP lease ({e})")
            rows.append([nic.label, nic.port_id[:8], nic.address, "-", "NO LEASE"])
            continue
        same = got == nic.address
        if not same:
            problems.append(f"{nic.label}: DHCP gave {got}, the port holds {nic.address}")
        rows.append([nic.label, nic.port_id[:8], nic.address, got, "yes" if same else "NO"])
    step(f"every guest asked by DHCP ({time.monotonic() - start_at:.1f} s for all leases):")
    say(table(["nic", "port", "fixed ip", "dhcp address", "equal"], rows))
    return problems


def reach(guests: dict[str, Guest]) -> Callable[[object, object], bool]:
    """``reached(source, target)`` from the guests' own ping reports.

    Waits for each guest's ``NAAS-PING-DONE``; a cell counts only when the
    guest got a reply on that NIC and its neighbour entry holds the target
    port's MAC (so another NIC answering for the address does not count).
    """
    deadline = time.monotonic() + PING_TIMEOUT
    reports: dict[tuple[str, str, str], str | None] = {}
    for name, guest in guests.items():
        try:
            guest.wait_for(r"^NAAS-PING-DONE", max(1.0, deadline - time.monotonic()))
        except GuestError:
            pass  # what it reported counts; the rest is FAIL (or isolated)
        for event in guest.events("NAAS-PING"):
            ok = event.get("ok") == "1"
            reports[(name, event.get("if", ""), event.get("to", ""))] = (
                event.get("mac", "").lower() if ok else None)

    def reached(source, target) -> bool:
        mac = reports.get((source.instance, source.ifname, target.address))
        return mac is not None and mac == target.mac.lower()

    return reached


def stop_all(guests: dict[str, Guest]) -> list[str]:
    """Stop every guest; the names of those whose QEMU would not go."""
    for guest in guests.values():
        guest.stop()
    return [name for name, guest in guests.items() if guest.running()]
