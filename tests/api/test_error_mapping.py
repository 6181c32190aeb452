"""Failures a client should retry differ on the wire from its own mistakes."""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc


def _failing(monkeypatch, service, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(service, "list_networks", fail)


def test_unavailable_database_is_503_with_retry_after(admin, api_service, monkeypatch):
    _failing(monkeypatch, api_service, exc.DatabaseUnavailable(reason="connection refused"))
    r = admin.get("/v2.0/networks")
    assert r.status_int == 503
    assert int(r.headers["Retry-After"]) > 0
    err = r.json["NeutronError"]
    assert err["type"] == "DatabaseUnavailable" and "Retry" in err["message"]


@pytest.mark.parametrize("error", [
    exc.ConcurrentModification(resource="Network", resource_id="n1"),
])
def test_concurrent_modification_is_409_without_retry_after(admin, api_service,
                                                            monkeypatch, error):
    _failing(monkeypatch, api_service, error)
    r = admin.get("/v2.0/networks")
    assert r.status_int == 409 and "Retry-After" not in r.headers
    assert r.json["NeutronError"]["type"] == "ConcurrentModification"
