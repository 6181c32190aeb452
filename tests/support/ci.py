"""What the machine must offer a test, and what happens when it does not.

On a developer's machine a missing prerequisite (root, a database server)
skips the test with the reason. Under ``CI=true`` the CI machine is expected
to provide all of them, so a missing one FAILS: a skipped test there would
hide work that never ran.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``)."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the current test for ``reason``; fail it instead under ``CI=true``."""
    if in_ci():
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_root(what: str = "this test") -> None:
    """Go on only as root (network namespaces, devices); see :func:`unavailable`."""
    if os.geteuid() != 0:
        unavailable(f"{what} needs root (network namespaces, devices)")
