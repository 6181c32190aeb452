"""The REST API carries Neutron's DHCP and IPv6 mode attributes of subnets."""

from __future__ import annotations

import pytest


@pytest.fixture
def net(admin):
    return admin.post("/v2.0/networks", {"network": {"name": "n"}}).json["network"]


def test_ipv6_modes_round_trip_and_filter(admin, net):
    body = {"subnet": {"network_id": net["id"], "cidr": "2001:db8::/64", "ip_version": 6,
                       "ipv6_ra_mode": "dhcpv6-stateless",
                       "ipv6_address_mode": "dhcpv6-stateless"}}
    r = admin.post("/v2.0/subnets", body)
    assert r.status_int == 201, r.json
    sub = r.json["subnet"]
    assert (sub["ipv6_ra_mode"], sub["ipv6_address_mode"], sub["enable_dhcp"]) == (
        "dhcpv6-stateless", "dhcpv6-stateless", True)
    listed = admin.get("/v2.0/subnets?ipv6_address_mode=dhcpv6-stateless").json["subnets"]
    assert [s["id"] for s in listed] == [sub["id"]]
    v4 = admin.post("/v2.0/subnets", {"subnet": {"network_id": net["id"],
                                                 "cidr": "10.0.0.0/24"}}).json["subnet"]
    assert (v4["ipv6_ra_mode"], v4["ipv6_address_mode"]) == (None, None)


def test_bad_mode_is_400_naming_the_field(admin, net):
    r = admin.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                                "ipv6_ra_mode": "slaac"}})
    assert r.status_int == 400 and "ipv6_ra_mode" in r.json["NeutronError"]["message"]


def test_dhcp_port_found_by_device_owner_only(admin, net):
    admin.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24"}})
    assert admin.get(f"/v2.0/ports?network_id={net['id']}").json["ports"] == []
    (port,) = admin.get(f"/v2.0/ports?network_id={net['id']}&device_owner=network:dhcp"
                        ).json["ports"]
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.254"
