"""Fixtures shared by every tier: services on in-memory SQLite and real databases."""

from __future__ import annotations

import pytest

from naas_lib import NetworkService, RequestContext
from tests.support import databases
from tests.support.ci import unavailable


@pytest.fixture
def admin_ctx() -> RequestContext:
    return RequestContext(project_id="admin-project", user_id="admin", roles=["admin"])


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(project_id="project-a", user_id="alice", roles=["member"])


@pytest.fixture
def other_ctx() -> RequestContext:
    return RequestContext(project_id="project-b", user_id="bob", roles=["member"])


@pytest.fixture
def make_service():
    """Build services on a shared in-memory SQLite database; closed afterwards."""
    made: list[NetworkService] = []

    def make(**settings) -> NetworkService:
        settings.setdefault("database_url", "sqlite://")
        svc = NetworkService.from_settings(**settings)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.close()


@pytest.fixture
def service(make_service) -> NetworkService:
    return make_service()


def _provisioned(backend: str):
    """A fresh database of ``backend`` (yields its URL, drops it after); a missing server
    fails under CI=true."""
    try:
        url, drop = databases.provision(backend)
    except databases.ServerUnavailable as e:
        unavailable(f"database server {e}")
    yield url
    drop()


@pytest.fixture(params=databases.BACKENDS)
def db_url(request):
    """A fresh database on each backend."""
    yield from _provisioned(request.param)


@pytest.fixture(scope="module", params=databases.BACKENDS)
def module_db_url(request):
    """One fresh database per backend shared by a module's tests (for many small cases)."""
    yield from _provisioned(request.param)


@pytest.fixture(scope="module")
def module_db_service(module_db_url):
    """A NetworkService on ``module_db_url``, migrated, shared by a module's tests."""
    svc = NetworkService.from_settings(database_url=module_db_url, create_schema=True,
                                       vni_ranges=["100:199"], flat_networks=["physnet1"])
    yield svc
    svc.close()
