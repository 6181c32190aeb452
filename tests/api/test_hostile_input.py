"""Hostile input over REST is a 400 in the NeutronError shape, never a 500."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", [
    "/v2.0/networks/ab%00cd",
    "/v2.0/networks/ab%ed%a0%80cd",  # UTF-8 of a lone surrogate
    "/v2.0/networks?name=ab%00cd",
    "/v2.0/ports?device_id=%ed%a0%80",
    "/v2.0/networks?marker=ab%00cd",
    "/v2.0/ports?fixed_ips=subnet_id%3Dab%00cd",
])
def test_hostile_lookups_are_400(admin, path):
    r = admin.get(path)
    assert r.status_int in (400, 404), r.text
    assert set(r.json["NeutronError"]) == {"type", "message", "detail"}


@pytest.mark.parametrize("network,fragment", [
    ({"name": "a\ud800b"}, "Unicode"),
    ({"name": "a\x00b"}, "NUL"),
    ({"name": "x" * 256}, "longer than"),
    ({"mtu": "１５００"}, "not an integer"),
])
def test_hostile_network_bodies_are_400(admin, network, fragment):
    r = admin.post("/v2.0/networks", {"network": network})
    assert r.status_int == 400, r.text
    assert fragment in r.json["NeutronError"]["message"]


def test_fullwidth_prefix_and_non_strict_profile_are_refused(admin):
    net = admin.create("network", name="n")
    r = admin.post("/v2.0/subnets", {"subnet": {"network_id": net["id"],
                                                "cidr": "10.0.0.0/２4", "ip_version": 4}})
    assert r.status_int == 400 and "ASCII" in r.json["NeutronError"]["message"]
    for profile, fragment in (('{"a": NaN}', "JSON number"),
                              ('{"a": "' + "x" * 20000 + '"}', "more than"),
                              ('{"a": "\\u0000"}', "NUL"),
                              ('{"a": "\\ud800"}', "Unicode")):
        body = ('{"port": {"network_id": "' + net["id"] + '", "binding:profile": '
                + profile + "}}").encode()
        r = admin.request("POST", "/v2.0/ports", raw=body)
        assert r.status_int == 400, (profile[:20], r.text)
        assert fragment in r.json["NeutronError"]["message"]
    assert admin.get("/v2.0/ports").json["ports"] == []
