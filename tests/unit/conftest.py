"""Helpers of the unit tier: a whole-database snapshot to prove "nothing changed"."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from naas_lib import NetworkService
from naas_lib.db import models


def snapshot(service: NetworkService) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    tables: dict[str, list[tuple]] = {}
    with service.db.engine.connect() as conn:
        for table in models.metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            tables[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return tables


@contextlib.contextmanager
def unchanged(service: NetworkService) -> Iterator[None]:
    """Assert the database holds exactly the same rows after the block."""
    before = snapshot(service)
    yield
    after = snapshot(service)
    changed = {name for name in before if before[name] != after[name]}
    assert not changed, f"tables changed: {sorted(changed)}"


@pytest.fixture
def db_unchanged(service):
    """``with db_unchanged(): ...`` asserts the service's database is untouched."""
    return lambda: unchanged(service)


@pytest.fixture
def net(service, ctx):
    """A tenant network of ``ctx`` (vxlan by default)."""
    return service.create_network(ctx, name="net")


@pytest.fixture
def subnet(service, ctx, net):
    """An IPv4 /24 on ``net``."""
    return service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
