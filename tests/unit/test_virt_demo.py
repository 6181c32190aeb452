"""``naas demo`` as records only (noop driver): the installed command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def _naas() -> str:
    return os.path.join(os.path.dirname(sys.executable), "naas")


def test_demo_with_noop_driver_boots_three_instances_and_leaves_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    run = subprocess.run([_naas(), "demo", "--driver", "noop", "--database-url", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "records only" in out
    for vm in ("vm1", "vm2", "vm3"):
        assert f"booted {vm} with 2 NICs" in out
    assert out.count("fa:16:3e:") == 6  # six NICs, each with its MAC shown
    assert "nothing left behind" in out and out.rstrip().endswith("demo passed")
    # The database it used really holds no ports any more.
    from naas_lib import NetworkService, get_admin_context

    with NetworkService.from_settings(database_url=url) as svc:
        assert svc.list_ports(get_admin_context()) == []
        assert svc.list_networks(get_admin_context()) == []


def test_demo_help_names_the_driver_choice():
    run = subprocess.run([_naas(), "demo", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and "--driver" in run.stdout
