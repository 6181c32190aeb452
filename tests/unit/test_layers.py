"""The layer contracts hold, and they would catch a caller reaching past the facade."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINT = os.path.join(os.path.dirname(sys.executable), "lint-imports")


def _lint(root: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=root)
    return subprocess.run([LINT, "--no-cache", "--config", os.path.join(root, "pyproject.toml")],
                          capture_output=True, text=True, cwd=root, env=env, timeout=300)


def test_contracts_are_kept():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def _lint_with_import(tmp_path, module: str, line: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the package where ``module`` has one more import."""
    shutil.copytree(os.path.join(ROOT, "naas_lib"), tmp_path / "naas_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), tmp_path / "pyproject.toml")
    with open(tmp_path / "naas_lib" / module, "a") as f:
        f.write(f"\n{line}  # noqa\n")
    return _lint(str(tmp_path))


def test_a_caller_importing_a_resource_breaks_the_contracts(tmp_path):
    out = _lint_with_import(tmp_path, "api/app.py",
                            "from naas_lib.resources import ports as _leak")
    assert out.returncode != 0
    assert "naas_lib.api is not allowed to import naas_lib.resources" in out.stdout
    assert "naas_lib.api.app -> naas_lib.resources.ports" in out.stdout


def test_a_driver_importing_the_service_breaks_the_layers(tmp_path):
    out = _lint_with_import(tmp_path, "drivers/noop.py", "from naas_lib import service as _up")
    assert out.returncode != 0
    assert "naas_lib.drivers is not allowed to import naas_lib.service" in out.stdout
