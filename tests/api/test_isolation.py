"""Tenant isolation over HTTP: another project's private resources are 404, never 403."""

from __future__ import annotations

import pytest


@pytest.fixture
def world(admin):
    a, b = admin.as_project("project-a"), admin.as_project("project-b")
    shared = admin.create("network", name="shared", shared=True)
    admin.create("subnet", network_id=shared["id"], cidr="192.168.50.0/24")
    nb = b.create("network", name="b-private")
    sb = b.create("subnet", network_id=nb["id"], cidr="10.20.0.0/24")
    pb = b.create("port", network_id=nb["id"], name="b-port")
    pb_shared = b.create("port", network_id=shared["id"], name="b-on-shared")
    pa_shared = a.create("port", network_id=shared["id"], name="a-on-shared")
    return {"a": a, "b": b, "admin": admin, "shared": shared,
            "b_resources": {"networks": nb, "subnets": sb, "ports": pb},
            "pb_shared": pb_shared, "pa_shared": pa_shared}


UPDATES = {"networks": {"network": {"name": "x"}}, "subnets": {"subnet": {"name": "x"}},
           "ports": {"port": {"name": "x"}}}


@pytest.mark.parametrize("collection", ["networks", "subnets", "ports"])
def test_project_a_cannot_reach_project_b_private_resources(world, collection):
    a = world["a"]
    target = world["b_resources"][collection]
    listed = {x["id"] for x in a.get(f"/v2.0/{collection}").json[collection]}
    assert target["id"] not in listed
    filtered = a.get(f"/v2.0/{collection}?id={target['id']}").json[collection]
    assert filtered == []
    path = f"/v2.0/{collection}/{target['id']}"
    for response in (a.get(path), a.put(path, UPDATES[collection]), a.delete(path)):
        assert response.status_int == 404, response.text
        assert response.json["NeutronError"]["type"].endswith("NotFound")
    # B still has it, unchanged.
    assert world["b"].get(path).json[collection[:-1]]["name"] != "x"


def test_project_a_cannot_create_on_project_b_network(world):
    a, nb = world["a"], world["b_resources"]["networks"]
    r = a.post("/v2.0/ports", {"port": {"network_id": nb["id"]}})
    assert r.status_int == 404 and r.json["NeutronError"]["type"] == "NetworkNotFound"
    r = a.post("/v2.0/subnets", {"subnet": {"network_id": nb["id"], "cidr": "10.99.0.0/24"}})
    assert r.status_int == 404
    r = a.post("/v2.0/networks", {"network": {"name": "sneaky", "project_id": "project-b"}})
    assert r.status_int == 403


def test_shared_network_is_usable_by_both_but_ports_stay_private(world):
    a, b, shared = world["a"], world["b"], world["shared"]
    for client in (a, b):
        nets = {n["id"] for n in client.get("/v2.0/networks").json["networks"]}
        assert shared["id"] in nets
        subnet_ids = {s["id"] for s in client.get("/v2.0/subnets").json["subnets"]}
        assert set(client.get(f"/v2.0/networks/{shared['id']}").json["network"]["subnets"]) \
            <= subnet_ids
    a_ports = {p["id"] for p in a.get("/v2.0/ports").json["ports"]}
    assert a_ports == {world["pa_shared"]["id"]}
    r = a.get(f"/v2.0/ports/{world['pb_shared']['id']}")
    assert r.status_int == 404
    # Only the owner (admin) may change or delete the shared network.
    assert a.put(f"/v2.0/networks/{shared['id']}", UPDATES["networks"]).status_int == 403
    assert a.delete(f"/v2.0/networks/{shared['id']}").status_int == 403


def test_admin_sees_every_project(world):
    admin = world["admin"]
    for collection, resource in world["b_resources"].items():
        ids = {x["id"] for x in admin.get(f"/v2.0/{collection}").json[collection]}
        assert resource["id"] in ids
        assert admin.get(f"/v2.0/{collection}/{resource['id']}").status_int == 200
    owners = {p["tenant_id"] for p in admin.get("/v2.0/ports").json["ports"]}
    assert owners == {"project-a", "project-b"}
    only_b = admin.get("/v2.0/ports?tenant_id=project-b").json["ports"]
    assert {p["project_id"] for p in only_b} == {"project-b"} and len(only_b) == 2


def test_member_cannot_bind_ports_to_hosts(world):
    a, shared = world["a"], world["shared"]
    r = a.post("/v2.0/ports", {"port": {"network_id": shared["id"], "device_id": "vm",
                                        "binding:host_id": "compute-1"}})
    assert r.status_int == 403
    port = world["pa_shared"]
    r = a.put(f"/v2.0/ports/{port['id']}", {"port": {"device_id": "vm",
                                                     "binding:host_id": "compute-1"}})
    assert r.status_int == 403
    assert a.get(f"/v2.0/ports/{port['id']}").json["port"]["binding:host_id"] is None
