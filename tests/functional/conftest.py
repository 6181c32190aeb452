"""Fixtures of the functional tier (root, namespaces, real devices).

Every test of this tier needs root: the autouse fixture below skips it
elsewhere and fails it under ``CI=true`` (see :mod:`tests.support.ci`).
"""

import pytest

from tests.functional.hosts_topology import topo  # noqa: F401 - a fixture
from tests.support.ci import require_root


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root("a functional test")
