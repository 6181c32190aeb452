"""``naas demo`` for real (root): namespaces, traffic, and nothing left afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.functional  # root: required by tests/functional/conftest.py


_NIC_ROW = re.compile(r"^eth\d\s+\w+\s+([0-9a-f]{8})\s", re.M)


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_demo_proves_connectivity_and_isolation_and_cleans_up():
    before = _namespaces()
    naas = os.path.join(os.path.dirname(sys.executable), "naas")
    run = subprocess.run([naas, "demo"], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "driver linuxbridge" in out and "records only" not in out
    matrix = out[out.index("connectivity matrix"):out.index("tearing down")]
    rows = [line for line in matrix.splitlines() if line.startswith("vm")]
    assert len(rows) == 6
    # Each NIC reaches the two other instances' NICs on its network, and not the others.
    assert all(r.split().count("ok") == 2 and r.split().count("isolated") == 2 for r in rows)
    assert "FAIL" not in matrix and "LEAK" not in matrix
    assert "nothing left behind" in out
    assert {ns for ns in _namespaces() - before if ns.startswith("naas-demo-")} == set()


def test_interrupted_demo_removes_its_namespaces_and_devices():
    naas = os.path.join(os.path.dirname(sys.executable), "naas")
    proc = subprocess.Popen([naas, "demo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if len(_NIC_ROW.findall("".join(seen))) == 4:  # vm1 and vm2 are up
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.stdout.read()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    namespace = re.search(r"namespace (naas-demo-\w+)-vm2", "".join(seen)).group(1)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert not {ns for ns in _namespaces() if ns.startswith(namespace)}
    ports = _NIC_ROW.findall("".join(seen))
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert not [p for p in ports if p in links]
