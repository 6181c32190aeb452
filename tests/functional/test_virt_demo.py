"""``naas demo`` for real (root): QEMU VMs and namespace guests, and nothing left afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.guests.qemu import require_qemu

pytestmark = pytest.mark.functional  # root: required by tests/functional/conftest.py


_NIC_ROW = re.compile(r"^eth\d\s+\w+\s+([0-9a-f]{8})\s", re.M)
_TAP = re.compile(r"\s(tap[0-9a-f]{8}-[0-9a-f]{2})\s")
_TMPDIR = re.compile(r"database sqlite:///(/\S+)/naas\.sqlite")
_HOST = re.compile(r"host (demo-host-[0-9a-f]{6})")
NAAS = os.path.join(os.path.dirname(sys.executable), "naas")


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (QEMU, dnsmasq)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if entry.isdigit() and text in argv and not zombie:
            found.append(argv)
    return found


def _nothing_of_the_run_left(out: str) -> None:
    """No QEMU, dnsmasq, tap, responder namespace or file of this run is on the host."""
    tmpdir = _TMPDIR.search(out).group(1)
    host = _HOST.search(out).group(1)
    assert _processes_mentioning(tmpdir) == []  # QEMU and dnsmasq keep files there
    assert not os.path.exists(tmpdir)
    assert not [ns for ns in _namespaces() if ns.startswith(f"naasdhcp-{host}-")]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    taps = _TAP.findall(out)
    assert not [t for t in taps if t in links]
    assert not [p for p in _NIC_ROW.findall(out) if p in links]


def _matrix_rows(out: str) -> list[str]:
    matrix = out[out.index("connectivity matrix"):out.index("tearing down")]
    assert "FAIL" not in matrix and "LEAK" not in matrix, matrix
    return [line for line in matrix.splitlines() if line.startswith("vm")]


def test_demo_boots_qemu_vms_that_get_their_ports_addresses_by_dhcp():
    require_qemu()
    run = subprocess.run([NAAS, "demo", "--guests", "qemu"], capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "driver linuxbridge" in out and "guests: QEMU VMs (DHCP)" in out
    leases = out[out.index("asked by DHCP"):out.index("connectivity matrix")]
    rows = [line.split() for line in leases.splitlines() if line.startswith("vm")]
    # Six NICs, each with the DHCP address equal to its port's fixed IP.
    assert len(rows) == 6 and all(r[2] == r[3] and r[4] == "yes" for r in rows), leases
    rows = _matrix_rows(out)
    assert len(rows) == 6
    assert all(r.split().count("ok") == 2 and r.split().count("isolated") == 2 for r in rows)
    assert "nothing left behind" in out
    _nothing_of_the_run_left(out)


def test_demo_with_namespace_guests_proves_connectivity_and_isolation_and_cleans_up():
    before = _namespaces()
    run = subprocess.run([NAAS, "demo", "--guests", "namespace"], capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "driver linuxbridge" in out and "records only" not in out
    assert "guests: network namespaces" in out
    rows = _matrix_rows(out)
    assert len(rows) == 6
    # Each NIC reaches the two other instances' NICs on its network, and not the others.
    assert all(r.split().count("ok") == 2 and r.split().count("isolated") == 2 for r in rows)
    assert "nothing left behind" in out
    assert {ns for ns in _namespaces() - before if ns.startswith("naas-demo-")} == set()
    _nothing_of_the_run_left(out)


def _interrupt(args: list[str], ready) -> tuple[subprocess.Popen, str, str]:
    """Run ``naas demo`` and SIGINT it once ``ready(output so far)``; (proc, seen, rest)."""
    proc = subprocess.Popen([NAAS, "demo", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if ready("".join(seen)):
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.stdout.read()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc, "".join(seen), rest


def test_interrupted_demo_removes_its_namespaces_and_devices():
    proc, seen, rest = _interrupt(["--guests", "namespace"],
                                  lambda out: len(_NIC_ROW.findall(out)) == 4)  # vm1, vm2 up
    namespace = re.search(r"namespace (naas-demo-\w+)-vm2", seen).group(1)
    assert proc.returncode == 130, seen + rest
    assert "interrupted" in rest
    assert not {ns for ns in _namespaces() if ns.startswith(namespace)}
    _nothing_of_the_run_left(seen)


def test_interrupted_demo_stops_its_running_vms():
    require_qemu()
    proc, seen, rest = _interrupt(["--guests", "qemu"],
                                  lambda out: "started 3 QEMU guests" in out)
    assert proc.returncode == 130, seen + rest
    assert "interrupted" in rest
    _nothing_of_the_run_left(seen)
