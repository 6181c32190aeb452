"""Fault injection points: silent unless named, then raise or SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests import fault_injection as faults


def test_point_does_nothing_unless_named(monkeypatch):
    monkeypatch.delenv(faults.ENV_VAR, raising=False)
    faults.point("mid_plug")
    monkeypatch.setenv(faults.ENV_VAR, "after_commit_before_plug:raise")
    faults.point("mid_plug")


def test_point_raises_when_asked(monkeypatch):
    monkeypatch.setenv(faults.ENV_VAR, "other, mid_plug:raise")
    with pytest.raises(faults.FaultInjected, match="mid_plug"):
        faults.point("mid_plug")


def test_point_kills_the_process_by_default():
    code = "from tests import fault_injection as f; f.point('mid_plug'); print('survived')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"NAAS_FAULT_INJECT": "mid_plug"}, timeout=60,
                          cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert proc.returncode == -signal.SIGKILL
    assert "survived" not in proc.stdout
