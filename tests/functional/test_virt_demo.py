"""``naas demo`` for real (root): namespaces, traffic, and nothing left afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, devices)"),
]


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
