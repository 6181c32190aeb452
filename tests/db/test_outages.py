"""A database that goes away: typed errors, nothing half-applied, recovery at restart.

Each backend runs on a private server the test starts, stops and restarts
(tests.support.servers), never on the machine's shared ones.
"""

from __future__ import annotations

import collections
import logging
import threading
import time

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc
from naas_lib.db import api as db_api
from naas_lib.db import retry as db_retry
from tests.support import ci, servers

CTX = RequestContext(project_id="tenant-1", user_id="u1")


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def private_server(request):
    cls = servers.PrivatePostgres if request.param == "postgresql" else servers.PrivateMariaDB
    try:
        server = cls()
    except servers.ServerUnavailable as e:
        ci.unavailable(f"a private {request.param} server: {e}")
    yield server
    server.close()


def _state(svc):
    nets = sorted(n.id for n in svc.list_networks(CTX))
    ports = sorted((p.id, tuple(f.ip_address for f in p.fixed_ips))
                   for p in svc.list_ports(CTX))
    return nets, ports


def test_outage_gives_typed_errors_and_recovers(private_server, caplog):
    svc = NetworkService.from_settings(database_url=private_server.url, create_schema=True)
    try:
        net = svc.create_network(CTX, name="before")
        svc.create_subnet(CTX, network_id=net.id, cidr="10.77.0.0/24")
        svc.create_port(CTX, network_id=net.id)
        before = _state(svc)

        private_server.stop()
        calls = [
            lambda: svc.create_network(CTX, name="during"),
            lambda: svc.create_port(CTX, network_id=net.id),
            lambda: svc.update_network(CTX, net.id, name="renamed"),
            lambda: svc.list_ports(CTX),
            lambda: svc.get_network(CTX, net.id),
        ]
        errors = collections.Counter()
        with caplog.at_level(logging.WARNING):
            for call in calls:
                with pytest.raises(exc.NaasError) as info:
                    call()
                errors[type(info.value).__name__] += 1
                assert "safe to retry" in str(info.value)
        assert errors == {"DatabaseUnavailable": len(calls)}
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

        private_server.start()
        # The first call after the restart succeeds (stale pooled connections are replaced).
        after = svc.create_port(CTX, network_id=net.id)
        assert after.fixed_ips[0].ip_address == "10.77.0.3"
        nets, ports = _state(svc)
        # Nothing of the failed calls was applied.
        assert nets == before[0]
        assert ports == sorted(before[1] + [(after.id, ("10.77.0.3",))])
        assert svc.get_network(CTX, net.id).name == "before"
    finally:
        svc.close()


def test_retry_waits_out_a_short_outage_and_gives_up_on_a_long_one(private_server, caplog):
    db = db_api.Database(private_server.url)

    def ping() -> int:
        with db.writer() as session:
            return session.connection().exec_driver_sql("SELECT 1").scalar()

    try:
        assert ping() == 1
        private_server.stop()
        attempts = []

        def counted() -> int:
            attempts.append(time.monotonic())
            return ping()

        with caplog.at_level(logging.DEBUG, logger="naas_lib.db.retry"):
            start = time.monotonic()
            with pytest.raises(exc.DatabaseUnavailable):
                db_retry.retrying(unavailable_timeout=1.0)(counted)()
            elapsed = time.monotonic() - start
        assert 1.0 <= elapsed < 3.0
        assert len(attempts) >= 3
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and warnings[0].exc_info is None
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

        # An outage shorter than the budget is invisible to the caller.
        restart = threading.Timer(0.5, private_server.start)
        restart.start()
        try:
            assert db_retry.retrying(unavailable_timeout=30.0)(ping)() == 1
        finally:
            restart.join()
    finally:
        db.dispose()
