"""``naas config``: print the sample configuration file."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from naas_lib.cli import common


def _sample(args: argparse.Namespace) -> int:
    """Run oslo-config-generator for the naas_lib namespace (the same as the committed sample)."""
    cmd = [sys.executable, "-c", "from oslo_config.generator import main; main()",
           "--namespace", "naas_lib", "--wrap-width", "79"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["oslo-config-generator failed"])[-1]
        raise common.CommandError(last)
    sys.stdout.write(out.stdout)
    return 0


def register(subparsers: Any) -> None:
    """Add ``naas config ...`` to the top-level subparsers."""
    sub = common.add_group(subparsers, "config", "Configuration helpers.")
    common.add_command(sub, "sample", "Print a sample naas.conf with every option and its help.",
                       _sample)
