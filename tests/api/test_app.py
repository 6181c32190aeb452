"""The WSGI application in-process: wire format, codes, paging and attach semantics."""

from __future__ import annotations

import urllib.parse

import pytest

from naas_lib.api.app import build_noauth_app


@pytest.fixture
def net(admin):
    n = admin.create("network", name="blue")
    admin.create("subnet", network_id=n["id"], cidr="10.9.0.0/28")
    return n


def test_version_discovery_self_link_points_at_v2(admin):
    r = admin.get("/")
    assert r.status_int == 200
    (version,) = r.json["versions"]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"][0] == {"rel": "self", "href": "http://localhost/v2.0/"}
    names = {x["collection"] for x in admin.get("/v2.0/").json["resources"]}
    assert names == {"networks", "subnets", "ports", "security_groups", "security_group_rules"}


def test_extensions_list_show_and_unknown_alias(admin):
    aliases = {e["alias"] for e in admin.get("/v2.0/extensions").json["extensions"]}
    assert {"provider", "binding", "revision-if-match", "pagination"} <= aliases
    assert admin.get("/v2.0/extensions/binding").json["extension"]["alias"] == "binding"
    r = admin.get("/v2.0/extensions/no-such-thing")
    assert r.status_int == 404
    assert r.json["NeutronError"]["type"] == "ExtensionNotFound"


def test_network_document_uses_neutron_names(admin):
    n = admin.create("network", name="red", **{"provider:network_type": "local"})
    assert n["provider:network_type"] == "local"
    assert n["provider:segmentation_id"] is None
    assert n["tenant_id"] == n["project_id"] == "admin"
    assert n["created_at"].endswith("Z") and "." not in n["created_at"]
    assert "network_type" not in n
    shown = admin.get(f"/v2.0/networks/{n['id']}").json["network"]
    assert shown == n


def test_port_document_has_binding_attributes(admin, net):
    p = admin.create("port", network_id=net["id"], name="p")
    for key in ("binding:host_id", "binding:profile", "binding:vif_type",
                "binding:vif_details", "device_id", "device_owner", "mac_address"):
        assert key in p
    assert p["binding:vif_type"] == "unbound"
    assert p["fixed_ips"][0]["ip_address"].startswith("10.9.0.")
    assert "status_reason" not in p


def test_create_update_delete_codes(admin):
    n = admin.create("network", name="a")
    r = admin.put(f"/v2.0/networks/{n['id']}", {"network": {"name": "b"}})
    assert r.status_int == 200 and r.json["network"]["name"] == "b"
    assert r.json["network"]["revision_number"] == n["revision_number"] + 1
    r = admin.delete(f"/v2.0/networks/{n['id']}")
    assert r.status_int == 204 and r.body == b""
    assert admin.get(f"/v2.0/networks/{n['id']}").status_int == 404


@pytest.mark.parametrize("raw, fragment", [
    (b"{not json", "Malformed JSON"),
    (b"[]", "JSON object"),
    (b'{"netwrk": {}}', "Unable to find 'network'"),
    (b'{"network": 3}', "'network' must be a JSON object"),
    (b'{"networks": []}', "non-empty list"),
    (b"", "empty"),
])
def test_malformed_bodies_are_400(admin, raw, fragment):
    r = admin.request("POST", "/v2.0/networks", raw=raw)
    assert r.status_int == 400, r.text
    assert fragment in r.json["NeutronError"]["message"]


def test_bad_values_are_400_naming_the_field(admin, net):
    r = admin.post("/v2.0/networks", {"network": {"colour": "green"}})
    assert r.status_int == 400 and "colour" in r.json["NeutronError"]["message"]
    r = admin.post("/v2.0/networks", {"network": {"admin_state_up": "maybe"}})
    assert r.status_int == 400 and "admin_state_up" in r.json["NeutronError"]["message"]
    r = admin.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.1/24"}})
    assert r.status_int == 400 and r.json["NeutronError"]["type"] == "InvalidCIDR"
    r = admin.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                            "binding:vif_type": "tap"}})
    assert r.status_int == 400 and "binding_vif_type" in r.json["NeutronError"]["message"]
    r = admin.get("/v2.0/networks?mtu=big")
    assert r.status_int == 400 and "mtu" in r.json["NeutronError"]["message"]
    r = admin.get("/v2.0/networks?limit=-1")
    assert r.status_int == 400 and "limit" in r.json["NeutronError"]["message"]


def test_oversized_body_is_413(api_service):
    small = build_noauth_app(api_service, max_request_body_size=2048)
    from tests.api.conftest import Client

    r = Client(small).post("/v2.0/networks", {"network": {"name": "x" * 5000}})
    assert r.status_int == 413
    assert r.json["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"


def test_unknown_path_and_method(admin):
    assert admin.get("/v2.0/routers").status_int == 404
    assert admin.get("/v3/networks").status_int == 404
    r = admin.request("PATCH", "/v2.0/networks")
    assert r.status_int == 405 and r.headers["Allow"] == "GET, POST"


def test_if_match_revision_precondition(admin):
    n = admin.create("network", name="rev")
    path = f"/v2.0/networks/{n['id']}"
    stale = {"If-Match": f"revision_number={n['revision_number'] + 5}"}
    r = admin.put(path, {"network": {"name": "x"}}, headers=stale)
    assert r.status_int == 412 and r.json["NeutronError"]["type"] == "RevisionConflict"
    assert admin.get(path).json["network"]["name"] == "rev"
    assert admin.delete(path, headers=stale).status_int == 412
    good = {"If-Match": f"revision_number={n['revision_number']}"}
    assert admin.put(path, {"network": {"name": "x"}}, headers=good).status_int == 200
    assert admin.put(path, {"network": {"name": "y"}},
                     headers={"If-Match": "etag"}).status_int == 400


def test_bulk_create_is_all_or_nothing(admin, net):
    r = admin.post("/v2.0/networks", {"networks": [{"name": "b1"}, {"name": "b2"}]})
    assert r.status_int == 201 and [x["name"] for x in r.json["networks"]] == ["b1", "b2"]
    r = admin.post("/v2.0/networks", {"networks": [{"name": "c1"}, {"mtu": "huge"}]})
    assert r.status_int == 400
    names = {x["name"] for x in admin.get("/v2.0/networks").json["networks"]}
    assert "c1" not in names and {"b1", "b2"} <= names
    r = admin.post("/v2.0/ports", {"ports": [{"network_id": net["id"]},
                                             {"network_id": net["id"], "mac_address": "zz"}]})
    assert r.status_int == 400
    assert admin.get("/v2.0/ports").json["ports"] == []
    r = admin.post("/v2.0/ports", {"ports": [{"network_id": net["id"], "name": str(i)}
                                             for i in range(3)]})
    assert r.status_int == 201 and len(r.json["ports"]) == 3


def _query(link: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)


def test_paging_walks_forward_and_back_with_links(admin):
    made = [admin.create("network", name=f"n{i:02d}")["id"] for i in range(7)]
    seen, url = [], "/v2.0/networks?limit=3&sort_key=name&sort_dir=asc&fields=name"
    pages = 0
    while url:
        body = admin.get(url).json
        pages += 1
        seen += [n["name"] for n in body["networks"]]
        assert all(set(n) == {"name"} for n in body["networks"])
        nxt = [lk["href"] for lk in body.get("networks_links", []) if lk["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
    assert seen == [f"n{i:02d}" for i in range(7)] and pages == 3
    assert len(made) == 7
    # The last page links back: previous page is the three before it.
    prev = [lk["href"] for lk in body["networks_links"] if lk["rel"] == "previous"][0]
    assert _query(prev)["page_reverse"] == ["True"]
    back = admin.get(prev.replace("http://localhost", "")).json
    assert [n["name"] for n in back["networks"]] == ["n03", "n04", "n05"]
    rels = {lk["rel"] for lk in back["networks_links"]}
    assert rels == {"next", "previous"}


def test_filters_fields_and_sort(admin, net):
    admin.create("port", network_id=net["id"], name="a", device_owner="compute:nova")
    p2 = admin.create("port", network_id=net["id"], name="b")
    r = admin.get("/v2.0/ports?device_owner=compute:nova&fields=name&fields=id")
    assert [p["name"] for p in r.json["ports"]] == ["a"]
    assert set(r.json["ports"][0]) == {"name", "id"}
    ip = p2["fixed_ips"][0]["ip_address"]
    r = admin.get(f"/v2.0/ports?fixed_ips=ip_address%3D{ip}")
    assert [p["id"] for p in r.json["ports"]] == [p2["id"]]
    r = admin.get("/v2.0/ports?sort_key=name&sort_dir=desc&fields=name")
    assert [p["name"] for p in r.json["ports"]] == ["b", "a"]
    r = admin.get(f"/v2.0/networks?provider:network_type={net['provider:network_type']}"
                  "&shared=False&fields=tenant_id")
    assert r.json["networks"] == [{"tenant_id": "admin"}]
    shown = admin.get(f"/v2.0/ports/{p2['id']}?fields=binding:host_id").json["port"]
    assert shown == {"binding:host_id": None}


def test_device_id_with_host_attaches_and_clearing_detaches(admin, api_service, net):
    p = admin.create("port", network_id=net["id"], device_id="vm-1",
                     **{"binding:host_id": "compute-1"})
    assert p["status"] == "BUILD" and p["binding:host_id"] == "compute-1"
    assert p["binding:vif_type"] != "unbound"
    from naas_lib import get_admin_context

    att = api_service.get_attachment(get_admin_context(), p["id"])
    assert (att.interface_id, att.instance_id, att.host) == (p["id"], "vm-1", "compute-1")
    r = admin.delete(f"/v2.0/ports/{p['id']}")
    assert r.status_int == 409 and r.json["NeutronError"]["type"] == "PortInUse"
    r = admin.put(f"/v2.0/ports/{p['id']}", {"port": {"device_id": ""}})
    assert r.status_int == 200
    assert r.json["port"]["binding:host_id"] is None and r.json["port"]["device_id"] == ""
    assert api_service.list_attachments(get_admin_context()) == []
    assert admin.delete(f"/v2.0/ports/{p['id']}").status_int == 204


def test_update_attaches_and_second_instance_conflicts(admin, net):
    p = admin.create("port", network_id=net["id"])
    path = f"/v2.0/ports/{p['id']}"
    r = admin.put(path, {"port": {"device_id": "vm-2", "binding:host_id": "compute-2"}})
    assert r.status_int == 200 and r.json["port"]["status"] == "BUILD"
    again = admin.put(path, {"port": {"device_id": "vm-2", "name": "same"}})
    assert again.status_int == 200 and again.json["port"]["name"] == "same"
    r = admin.put(path, {"port": {"device_id": "vm-3"}})
    assert r.status_int == 409 and r.json["NeutronError"]["type"] == "AlreadyAttached"
    r = admin.put(path, {"port": {"binding:host_id": None}})
    assert r.status_int == 200 and r.json["port"]["status"] == "DOWN"
    assert admin.delete(path).status_int == 204


def test_bulk_failure_leaves_no_address_allocated(admin, net):
    admin.create("port", network_id=net["id"])
    before = len(admin.get("/v2.0/ports").json["ports"])
    many = [{"network_id": net["id"]} for _ in range(20)]  # a /28 has 13 addresses
    r = admin.post("/v2.0/ports", {"ports": many})
    assert r.status_int == 409
    assert r.json["NeutronError"]["type"] == "IpAddressGenerationFailure"
    assert len(admin.get("/v2.0/ports").json["ports"]) == before


def test_vetoed_attach_on_create_removes_the_port(admin, api_service, net):
    from naas_lib import events
    from naas_lib import exceptions as exc

    def veto(resource, event, trigger, payload):
        raise exc.Conflict("host compute-x is draining")

    api_service.events.subscribe(veto, events.ATTACHMENT, events.BEFORE_CREATE)
    r = admin.post("/v2.0/ports", {"port": {"network_id": net["id"], "device_id": "vm",
                                            "binding:host_id": "compute-x"}})
    assert r.status_int == 409 and "draining" in r.json["NeutronError"]["message"]
    assert admin.get("/v2.0/ports").json["ports"] == []


def test_an_attach_that_fails_inside_an_update_leaves_the_port_as_it_was(admin, api_service,
                                                                         net):
    from naas_lib import events, exceptions, get_admin_context

    p = admin.create("port", network_id=net["id"], name="before")

    def veto(resource, event, trigger, payload):
        raise exceptions.Conflict("attachments are vetoed by a higher-layer service")

    api_service.events.subscribe(veto, events.ATTACHMENT, events.BEFORE_CREATE)
    r = admin.put(f"/v2.0/ports/{p['id']}", {"port": {
        "name": "after", "device_id": "vm-9", "binding:host_id": "compute-9"}})
    assert r.status_int == 409 and "vetoed" in r.json["NeutronError"]["message"]
    shown = api_service.get_port(get_admin_context(), p["id"])
    assert (shown.name, shown.device_id, shown.binding_host_id) == ("before", "", None)
    assert shown.binding_vif_type == "unbound"
    assert api_service.list_attachments(get_admin_context()) == []
