"""DB-contract fixtures: a migrated service on each backend."""

from __future__ import annotations

import pytest

from naas_lib import NetworkService


@pytest.fixture
def db_service(db_url):
    """A NetworkService on a fresh, migrated database of each backend."""
    svc = NetworkService.from_settings(database_url=db_url, create_schema=True,
                                       vni_ranges=["100:199"], flat_networks=["physnet1"])
    yield svc
    svc.close()
