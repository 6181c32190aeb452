"""Fixtures of the functional tier (root, namespaces, real devices)."""

from tests.functional.hosts_topology import topo  # noqa: F401 - a fixture
