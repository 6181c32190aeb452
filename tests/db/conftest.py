"""DB-contract fixtures: a migrated service on each backend, Galera included.

The Galera cluster (3 MariaDB nodes on loopback, tests.support.galera) is
started once per session, on first use, and stopped at the session's end.
Each contract test on it writes through one node (a different one per test)
and, when it is done, every node must show the same networks, subnets and
ports, read with ``wsrep_sync_wait``.
"""

from __future__ import annotations

import itertools

import pytest

from naas_lib import NetworkService, RequestContext
from tests.support import ci, databases, galera

GALERA = "galera"
_next_node = itertools.count()
_ADMIN = RequestContext(project_id="admin", user_id="root", roles=["admin"])


@pytest.fixture(scope="session")
def galera_cluster():
    """A running 3-node Galera cluster; a missing one fails under CI=true."""
    try:
        cluster = galera.GaleraCluster().start()
    except galera.GaleraUnavailable as e:
        ci.unavailable(f"a 3-node Galera cluster: {e}")
    yield cluster
    cluster.stop()


@pytest.fixture
def galera_urls(galera_cluster):
    """A fresh database on the cluster: one URL per node (reads wait for sync)."""
    urls, drop = galera_cluster.provision()
    yield urls
    drop()


def snapshot(url: str, **options) -> tuple:
    """Everything an admin sees through a service on ``url``."""
    svc = NetworkService.from_settings(database_url=url, create_schema=False, **options)
    try:
        return (sorted(n.id for n in svc.list_networks(_ADMIN)),
                sorted((s.id, s.cidr) for s in svc.list_subnets(_ADMIN)),
                sorted((p.id, p.mac_address, tuple(f.ip_address for f in p.fixed_ips))
                       for p in svc.list_ports(_ADMIN)))
    finally:
        svc.close()


@pytest.fixture(params=[*databases.BACKENDS, GALERA])
def db_service(request):
    """A NetworkService on a fresh, migrated database of each backend."""
    options = {"vni_ranges": ["100:199"], "flat_networks": ["physnet1"]}
    if request.param != GALERA:
        url = request.getfixturevalue("db_url_of")(request.param)
        svc = NetworkService.from_settings(database_url=url, create_schema=True, **options)
        yield svc
        svc.close()
        return
    urls = request.getfixturevalue("galera_urls")
    NetworkService.from_settings(database_url=urls[0], create_schema=True, **options).close()
    svc = NetworkService.from_settings(database_url=urls[next(_next_node) % len(urls)],
                                       **options)
    yield svc
    svc.close()
    views = [snapshot(url, **options) for url in urls]
    assert views[1:] == views[:1] * (len(urls) - 1), "Galera nodes disagree"


@pytest.fixture
def db_url_of():
    """Provision databases by backend name; each is dropped afterwards."""
    drops = []

    def provision(backend: str) -> str:
        try:
            url, drop = databases.provision(backend)
        except databases.ServerUnavailable as e:
            ci.unavailable(f"database server: {e}")
        drops.append(drop)
        return url

    yield provision
    for drop in drops:
        drop()
