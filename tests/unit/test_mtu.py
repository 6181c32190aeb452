"""MTU arithmetic and the MTU rules a caller meets on networks and subnets."""

from __future__ import annotations

import types

import pytest

from naas_lib import exceptions as exc
from naas_lib.network_types import manager as mtu


def test_physical_mtu_global_or_per_physnet():
    assert mtu.physical_mtu(1500, {}, None) == 1500
    assert mtu.physical_mtu(1500, {"physnet1": "9000"}, "physnet1") == 9000
    assert mtu.physical_mtu(1500, {"physnet1": 9000}, "physnet2") == 1500


@pytest.mark.parametrize("network_type,wire,expected", [
    ("vxlan", 1500, 1450), ("vxlan", 9000, 8950), ("flat", 1500, 1500), ("local", 1500, 1500),
    ("vlan", 9000, 9000),
])
def test_max_network_mtu(network_type, wire, expected):
    conf = types.SimpleNamespace(vni_ranges=["1:10"], network_vlan_ranges=[],
                                 flat_networks=["*"])
    assert mtu.load_type_class(network_type)(conf).max_mtu(wire) == expected


def test_vxlan_default_is_global_minus_50(make_service, ctx):
    svc = make_service(global_physnet_mtu=9000)
    assert svc.create_network(ctx).mtu == 8950


def test_flat_default_is_physnet_mtu(make_service, admin_ctx):
    svc = make_service(flat_networks=["physnet1", "physnet2"],
                       physical_network_mtus={"physnet1": 9000})
    n1 = svc.create_network(admin_ctx, network_type="flat", physical_network="physnet1")
    n2 = svc.create_network(admin_ctx, network_type="flat", physical_network="physnet2")
    assert (n1.mtu, n2.mtu) == (9000, 1500)


def test_requested_mtu_up_to_max(service, ctx):
    assert service.create_network(ctx, mtu=1450).mtu == 1450
    assert service.create_network(ctx, mtu=1400).mtu == 1400


@pytest.mark.parametrize("value", [1451, 9000, 67, 0, -1])
def test_requested_mtu_out_of_range(service, ctx, db_unchanged, value):
    with db_unchanged(), pytest.raises(exc.InvalidMtu) as info:
        service.create_network(ctx, mtu=value)
    assert info.value.kind == "bad_request"


def test_update_mtu_bounds(service, ctx, net):
    assert service.update_network(ctx, net.id, mtu=1300).mtu == 1300
    with pytest.raises(exc.InvalidMtu):
        service.update_network(ctx, net.id, mtu=1451)
    assert service.get_network(ctx, net.id).mtu == 1300


def test_ipv6_subnet_refused_on_small_mtu(service, ctx, db_unchanged):
    small = service.create_network(ctx, mtu=1200)
    with db_unchanged(), pytest.raises(exc.InvalidMtu):
        service.create_subnet(ctx, network_id=small.id, cidr="2001:db8::/64")
    # IPv4 is fine there
    service.create_subnet(ctx, network_id=small.id, cidr="10.0.0.0/24")


def test_mtu_below_1280_refused_once_ipv6_is_on_the_network(service, ctx, net):
    service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64")
    with pytest.raises(exc.InvalidMtu):
        service.update_network(ctx, net.id, mtu=1279)
    assert service.update_network(ctx, net.id, mtu=1280).mtu == 1280
