"""``/v2.0/ports/{id}/bindings`` over HTTP, as Nova's Neutron client calls it."""

from __future__ import annotations

import pytest

from naas_lib.api.app import build_noauth_app
from tests.api.conftest import Client


@pytest.fixture
def admin(service):
    return Client(build_noauth_app(service))


@pytest.fixture
def port(admin):
    net = admin.create("network", name="n")
    return admin.create("port", network_id=net["id"], **{"binding:host_id": "h1"})


def _bindings(admin, port_id):
    r = admin.get(f"/v2.0/ports/{port_id}/bindings")
    assert r.status_int == 200, r.text
    return [(b["host"], b["status"]) for b in r.json["bindings"]]


def test_live_migration_sequence_over_http(admin, port):
    pid = port["id"]
    assert _bindings(admin, pid) == [("h1", "ACTIVE")]
    r = admin.post(f"/v2.0/ports/{pid}/bindings",
                   {"binding": {"host": "h2", "vnic_type": "normal",
                                "profile": {"migrating_to": "h2"}}})
    assert r.status_int == 201, r.text
    b = r.json["binding"]
    assert (b["host"], b["status"], b["vnic_type"]) == ("h2", "INACTIVE", "normal")
    assert b["profile"] == {"migrating_to": "h2"} and b["vif_type"] != "unbound"
    assert admin.post(f"/v2.0/ports/{pid}/bindings",
                      {"binding": {"host": "h2"}}).status_int == 409
    r = admin.put(f"/v2.0/ports/{pid}/bindings/h2/activate", None)
    assert r.status_int == 200, r.text
    assert r.json["binding"]["status"] == "ACTIVE"
    assert admin.put(f"/v2.0/ports/{pid}/bindings/h2/activate", None).status_int == 409
    assert admin.get(f"/v2.0/ports/{pid}").json["port"]["binding:host_id"] == "h2"
    assert _bindings(admin, pid) == [("h2", "ACTIVE"), ("h1", "INACTIVE")]
    assert admin.delete(f"/v2.0/ports/{pid}/bindings/h2").status_int == 409
    assert admin.delete(f"/v2.0/ports/{pid}/bindings/h1").status_int == 204
    assert admin.delete(f"/v2.0/ports/{pid}/bindings/h1").status_int == 404
    assert _bindings(admin, pid) == [("h2", "ACTIVE")]


def test_bad_requests_and_unknown_ports(admin, port):
    pid = port["id"]
    assert admin.post(f"/v2.0/ports/{pid}/bindings", {"binding": {}}).status_int == 400
    assert admin.post(f"/v2.0/ports/{pid}/bindings",
                      {"binding": {"host": "h3", "vnic_type": "direct"}}).status_int == 400
    assert admin.post(f"/v2.0/ports/{pid}/bindings",
                      {"binding": {"host": "h3", "x": 1}}).status_int == 400
    assert admin.post(f"/v2.0/ports/{pid}/bindings", [1]).status_int == 400
    assert admin.get("/v2.0/ports/nope/bindings").status_int == 404
    assert admin.put(f"/v2.0/ports/{pid}/bindings/h9/activate", None).status_int == 404
    assert admin.get(f"/v2.0/ports/{pid}/bindings/h1").status_int == 405


def test_extension_is_advertised(admin):
    aliases = {e["alias"] for e in admin.get("/v2.0/extensions").json["extensions"]}
    assert "binding-extended" in aliases


def test_another_project_cannot_see_or_bind(admin, port):
    other = admin.as_project("someone-else")
    assert other.get(f"/v2.0/ports/{port['id']}/bindings").status_int == 404
    assert other.post(f"/v2.0/ports/{port['id']}/bindings",
                      {"binding": {"host": "h2"}}).status_int == 404
