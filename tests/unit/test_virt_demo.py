"""``naas demo`` as records only (noop driver): the installed command, run as a user would.

Also which guests the demo picks (QEMU VMs, else namespaces, saying why) and
where it caches the guest image, without root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from naas_lib.guests import image
from naas_lib.virt import demo_qemu


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


def test_demo_help_names_the_driver_and_guest_choices():
    run = subprocess.run([_naas(), "demo", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and "--driver" in run.stdout
    assert "--guests" in run.stdout and "namespace" in run.stdout


def test_auto_takes_qemu_when_possible_else_namespaces_and_says_why(monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(image, "missing", lambda: [])
    assert demo_qemu.choose("auto", True, said.append) == "qemu" and said == []
    assert demo_qemu.choose("namespace", True, said.append) == "namespace"
    monkeypatch.setattr(image, "missing", lambda: ["no qemu-system-x86_64"])
    assert demo_qemu.choose("auto", True, said.append) == "namespace"
    assert len(said) == 1 and "no qemu-system-x86_64" in said[0] and "namespaces" in said[0]
    with pytest.raises(demo_qemu.QemuUnavailable, match="qemu-system-x86_64"):
        demo_qemu.choose("qemu", True, said.append)
    assert demo_qemu.choose("auto", False, said.append) == "records"


def test_guest_image_cache_is_the_checkout_s_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv(image.CACHE_ENV, raising=False)
    checkout = Path(image.__file__).resolve().parents[2]
    assert image.default_cache_dir() == checkout / ".cache" / "guests"
    monkeypatch.setenv(image.CACHE_ENV, str(tmp_path / "g"))
    assert image.default_cache_dir() == tmp_path / "g"
