"""The Sphinx documentation builds without a single warning."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sphinx_build_has_no_warnings(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E",
         "-d", str(tmp_path / "doctrees"), "-b", "html",
         os.path.join(ROOT, "doc", "source"), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    for page in ("index", "architecture", "higher-layer-services", "cli", "configuration"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
