"""Subnets: IPv4 and IPv6, gateways, pools, DNS and routes, deletion rules."""

from __future__ import annotations

import uuid

import pytest

from naas_lib import exceptions as exc
from naas_lib import objects


def pools_of(sub: objects.Subnet) -> list[tuple[str, str]]:
    return [(p.start, p.end) for p in sub.allocation_pools]


def test_ipv4_defaults(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    assert (sub.ip_version, sub.cidr, sub.gateway_ip) == (4, "10.0.0.0/24", "10.0.0.1")
    assert pools_of(sub) == [("10.0.0.2", "10.0.0.254")]
    assert sub.enable_dhcp is True
    assert sub.project_id == "project-a" and sub.network_id == net.id
    assert service.get_subnet(ctx, sub.id) == sub


def test_ipv6_defaults(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8:1::/64")
    assert (sub.ip_version, sub.gateway_ip) == (6, "2001:db8:1::1")
    assert pools_of(sub) == [("2001:db8:1::2", "2001:db8:1:0:ffff:ffff:ffff:ffff")]


def test_explicit_gateway_splits_default_pool(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                                gateway_ip="10.0.0.100")
    assert pools_of(sub) == [("10.0.0.1", "10.0.0.99"), ("10.0.0.101", "10.0.0.254")]


def test_no_gateway(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", gateway_ip=None)
    assert sub.gateway_ip is None
    assert pools_of(sub) == [("10.0.0.1", "10.0.0.254")]
    assert service.create_port(ctx, network_id=net.id).fixed_ips[0].ip_address == "10.0.0.1"


def test_explicit_pools_dns_routes(service, ctx, net):
    sub = service.create_subnet(
        ctx, network_id=net.id, cidr="10.0.0.0/24", ip_version=4, name="s",
        allocation_pools=[{"start": "10.0.0.50", "end": "10.0.0.60"}],
        dns_nameservers=["10.0.0.2", "2001:db8::53"],
        host_routes=[{"destination": "192.168.0.0/16", "nexthop": "10.0.0.254"}],
        enable_dhcp=False)
    assert pools_of(sub) == [("10.0.0.50", "10.0.0.60")]
    assert sub.dns_nameservers == ("10.0.0.2", "2001:db8::53")
    assert sub.host_routes == (objects.HostRoute("192.168.0.0/16", "10.0.0.254"),)
    assert sub.enable_dhcp is False
    port = service.create_port(ctx, network_id=net.id)
    assert port.fixed_ips[0].ip_address == "10.0.0.50"


def test_update_subnet(service, ctx, subnet):
    upd = service.update_subnet(ctx, subnet.id, name="new", dns_nameservers=["1.1.1.1"],
                                host_routes=[{"destination": "0.0.0.0/0",
                                              "nexthop": "10.0.0.1"}],
                                enable_dhcp=False)
    assert (upd.name, upd.dns_nameservers, upd.enable_dhcp) == ("new", ("1.1.1.1",), False)
    assert upd.revision_number == subnet.revision_number + 1
    assert service.get_subnet(ctx, subnet.id) == upd


def test_update_gateway_outside_pools(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                                allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}])
    assert service.update_subnet(ctx, sub.id, gateway_ip="10.0.0.254").gateway_ip == \
        "10.0.0.254"
    with pytest.raises(exc.GatewayConflictWithAllocationPools):
        service.update_subnet(ctx, sub.id, gateway_ip="10.0.0.15")
    assert service.update_subnet(ctx, sub.id, gateway_ip=None).gateway_ip is None


def test_update_gateway_to_allocated_address_refused(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", gateway_ip=None,
                                allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}])
    port = service.create_port(ctx, network_id=net.id,
                               fixed_ips=[{"subnet_id": sub.id, "ip_address": "10.0.0.30"}])
    assert port.fixed_ips[0].ip_address == "10.0.0.30"
    with pytest.raises(exc.IpAddressInUse):
        service.update_subnet(ctx, sub.id, gateway_ip="10.0.0.30")


@pytest.mark.parametrize("attr,value", [("cidr", "10.1.0.0/24"), ("ip_version", 6),
                                        ("allocation_pools", [])])
def test_immutable_subnet_attributes(service, ctx, subnet, attr, value):
    with pytest.raises(exc.InvalidInput, match="cannot be changed"):
        service.update_subnet(ctx, subnet.id, **{attr: value})


def test_overlapping_subnets_on_one_network(service, ctx, net, subnet):
    for cidr in ("10.0.0.0/24", "10.0.0.128/25", "10.0.0.0/16"):
        with pytest.raises(exc.OverlappingSubnet):
            service.create_subnet(ctx, network_id=net.id, cidr=cidr)
    # disjoint CIDRs and the same CIDR on another network are fine
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.1.0/24")
    other = service.create_network(ctx)
    service.create_subnet(ctx, network_id=other.id, cidr="10.0.0.0/24")


def test_delete_subnet_in_use(service, ctx, net, subnet, db_unchanged):
    port = service.create_port(ctx, network_id=net.id)
    with db_unchanged(), pytest.raises(exc.SubnetInUse):
        service.delete_subnet(ctx, subnet.id)
    service.delete_port(ctx, port.id)
    service.delete_subnet(ctx, subnet.id)
    with pytest.raises(exc.SubnetNotFound):
        service.get_subnet(ctx, subnet.id)
    assert service.get_network(ctx, net.id).subnets == ()


@pytest.mark.parametrize("missing", [str(uuid.uuid4()), "nope", None])
def test_missing_subnet(service, ctx, missing):
    with pytest.raises(exc.SubnetNotFound):
        service.get_subnet(ctx, missing)
    with pytest.raises(exc.SubnetNotFound):
        service.update_subnet(ctx, missing, name="x")
    with pytest.raises(exc.SubnetNotFound):
        service.delete_subnet(ctx, missing)


def test_subnet_on_missing_network(service, ctx):
    with pytest.raises(exc.NetworkNotFound):
        service.create_subnet(ctx, network_id=str(uuid.uuid4()), cidr="10.0.0.0/24")


def test_required_fields(service, ctx, net):
    with pytest.raises(exc.InvalidInput, match="cidr"):
        service.create_subnet(ctx, network_id=net.id)
    with pytest.raises(exc.InvalidInput, match="network_id"):
        service.create_subnet(ctx, cidr="10.0.0.0/24")


def test_route_and_dns_checks(service, ctx, net):
    with pytest.raises(exc.InvalidInput):
        service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                              dns_nameservers=["1.1.1.1", "1.1.1.1"])
    with pytest.raises(exc.InvalidInput):
        service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                              host_routes=[{"destination": "2001:db8::/64",
                                            "nexthop": "10.0.0.1"}])
    with pytest.raises(exc.InvalidInput):
        service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                              host_routes=[{"destination": "bogus", "nexthop": "10.0.0.1"}])
    with pytest.raises(exc.InvalidInput):
        service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", ip_version=5)
