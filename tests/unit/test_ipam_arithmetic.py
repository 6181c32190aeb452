"""Pure subnet arithmetic (gateways, pools, reserved addresses) and MAC generation."""

from __future__ import annotations

import random

import netaddr
import pytest

from naas_lib import exceptions as exc
from naas_lib.ipam import addresses, macs


def ip(text: str) -> int:
    return int(netaddr.IPAddress(text))


def test_keys_sort_like_integers_for_v4_and_v6():
    values = [0, 1, 255, 2**32 - 1, 2**32, 2**64, 2**128 - 1]
    keys = [addresses.to_key(v) for v in values]
    assert keys == sorted(keys)
    assert len({len(k) for k in keys}) == 1
    assert [addresses.from_key(k) for k in keys] == values


def test_first_and_last_host():
    v4 = netaddr.IPNetwork("10.0.0.0/24")
    assert str(addresses.first_host(v4)) == "10.0.0.1"
    assert str(addresses.last_host(v4)) == "10.0.0.254"  # broadcast stays out
    v6 = netaddr.IPNetwork("2001:db8::/64")
    assert str(addresses.first_host(v6)) == "2001:db8::1"
    assert str(addresses.last_host(v6)) == "2001:db8::ffff:ffff:ffff:ffff"  # no broadcast


def test_reserved_addresses():
    v4 = netaddr.IPNetwork("10.0.0.0/24")
    assert addresses.is_reserved(v4, netaddr.IPAddress("10.0.0.0"))
    assert addresses.is_reserved(v4, netaddr.IPAddress("10.0.0.255"))
    assert not addresses.is_reserved(v4, netaddr.IPAddress("10.0.0.1"))
    v6 = netaddr.IPNetwork("2001:db8::/64")
    assert addresses.is_reserved(v6, netaddr.IPAddress("2001:db8::"))
    assert not addresses.is_reserved(v6, netaddr.IPAddress("2001:db8::ffff:ffff:ffff:ffff"))


def test_default_pools_split_around_gateway():
    net = netaddr.IPNetwork("10.0.0.0/24")
    assert addresses.default_pools(net, netaddr.IPAddress("10.0.0.1")) == [
        (ip("10.0.0.2"), ip("10.0.0.254"))]
    assert addresses.default_pools(net, netaddr.IPAddress("10.0.0.100")) == [
        (ip("10.0.0.1"), ip("10.0.0.99")), (ip("10.0.0.101"), ip("10.0.0.254"))]
    assert addresses.default_pools(net, netaddr.IPAddress("10.0.0.254")) == [
        (ip("10.0.0.1"), ip("10.0.0.253"))]
    assert addresses.default_pools(net, None) == [(ip("10.0.0.1"), ip("10.0.0.254"))]


def test_default_pool_of_smallest_subnet():
    net = netaddr.IPNetwork("10.0.0.0/30")  # hosts .1 and .2
    assert addresses.default_pools(net, netaddr.IPAddress("10.0.0.1")) == [
        (ip("10.0.0.2"), ip("10.0.0.2"))]


def test_default_pool_of_v6_64_is_not_enumerated():
    net = netaddr.IPNetwork("2001:db8::/64")
    pools = addresses.default_pools(net, addresses.first_host(net))
    assert pools == [(ip("2001:db8::2"), ip("2001:db8::ffff:ffff:ffff:ffff"))]


def test_gateway_automatic_explicit_none():
    net = netaddr.IPNetwork("10.0.0.0/24")
    assert str(addresses.parse_gateway(net, None, explicit=False)) == "10.0.0.1"
    assert str(addresses.parse_gateway(net, "10.0.0.254", explicit=True)) == "10.0.0.254"
    assert addresses.parse_gateway(net, None, explicit=True) is None
    assert addresses.parse_gateway(net, "", explicit=True) is None


@pytest.mark.parametrize("gw", ["10.0.1.1", "10.0.0.0", "10.0.0.255", "2001:db8::1", "x"])
def test_gateway_refused(gw):
    with pytest.raises(exc.InvalidInput):
        addresses.parse_gateway(netaddr.IPNetwork("10.0.0.0/24"), gw, explicit=True)


def pools(net: str, *ranges: tuple[str, str], gateway: str | None = "10.0.0.1"):
    n = netaddr.IPNetwork(net)
    gw = netaddr.IPAddress(gateway) if gateway else None
    return addresses.parse_pools(n, [{"start": s, "end": e} for s, e in ranges], gw)


def test_pools_valid_and_sorted():
    assert pools("10.0.0.0/24", ("10.0.0.100", "10.0.0.200"), ("10.0.0.10", "10.0.0.20")) == [
        (ip("10.0.0.10"), ip("10.0.0.20")), (ip("10.0.0.100"), ip("10.0.0.200"))]


def test_pool_outside_cidr():
    with pytest.raises(exc.InvalidAllocationPool, match="not inside"):
        pools("10.0.0.0/24", ("10.0.0.10", "10.0.1.20"))


def test_pools_overlapping():
    with pytest.raises(exc.InvalidAllocationPool, match="overlaps"):
        pools("10.0.0.0/24", ("10.0.0.10", "10.0.0.20"), ("10.0.0.20", "10.0.0.30"))


def test_pool_reversed():
    with pytest.raises(exc.InvalidAllocationPool, match="start is after end"):
        pools("10.0.0.0/24", ("10.0.0.20", "10.0.0.10"))


@pytest.mark.parametrize("start,end", [("10.0.0.0", "10.0.0.10"), ("10.0.0.200", "10.0.0.255")])
def test_pool_includes_network_or_broadcast(start, end):
    with pytest.raises(exc.InvalidAllocationPool, match="network or broadcast"):
        pools("10.0.0.0/24", (start, end))


def test_gateway_in_pool():
    with pytest.raises(exc.GatewayConflictWithAllocationPools):
        pools("10.0.0.0/24", ("10.0.0.1", "10.0.0.10"))
    # without a gateway the same pool is fine
    assert pools("10.0.0.0/24", ("10.0.0.1", "10.0.0.10"), gateway=None)


@pytest.mark.parametrize("bad", [
    [{"start": "10.0.0.2"}], [{"start": "10.0.0.2", "end": "10.0.0.3", "x": 1}], ["10.0.0.2"],
])
def test_pool_shape(bad):
    with pytest.raises(exc.InvalidAllocationPool):
        addresses.parse_pools(netaddr.IPNetwork("10.0.0.0/24"), bad, None)


def test_pools_must_be_a_list():
    with pytest.raises(exc.InvalidInput):
        addresses.parse_pools(netaddr.IPNetwork("10.0.0.0/24"), "10.0.0.2-10.0.0.3", None)


def test_pool_wrong_version():
    with pytest.raises(exc.InvalidInput):
        pools("10.0.0.0/24", ("2001:db8::2", "2001:db8::3"))


def test_pool_containing():
    ranges = [("a", 10, 20), ("b", 30, 40)]
    assert addresses.pool_containing(ranges, 10) == "a"
    assert addresses.pool_containing(ranges, 40) == "b"
    assert addresses.pool_containing(ranges, 25) is None


def test_check_fixed_ip():
    net = netaddr.IPNetwork("10.0.0.0/24")
    addresses.check_fixed_ip(net, netaddr.IPAddress("10.0.0.5"), "10.0.0.1", "s")
    for bad in ("10.0.0.0", "10.0.0.255", "10.0.0.1", "10.0.1.5", "2001:db8::5"):
        with pytest.raises(exc.InvalidIpForSubnet):
            addresses.check_fixed_ip(net, netaddr.IPAddress(bad), "10.0.0.1", "s")


# -- MACs -------------------------------------------------------------------


def test_generated_mac_keeps_base_and_is_unicast():
    rng = random.Random(7)
    seen = set()
    for _ in range(200):
        mac = macs.generate("fa:16:3e:00:00:00", rng)
        assert mac.startswith("fa:16:3e:")
        first = int(mac.split(":")[0], 16)
        assert not first & 0x01
        seen.add(mac)
    assert len(seen) > 190  # random tail


def test_generated_mac_keeps_nonzero_later_octets():
    rng = random.Random(1)
    for _ in range(20):
        mac = macs.generate("02:aa:bb:cc:00:00", rng)
        assert mac.startswith("02:aa:bb:cc:")


def test_base_octets():
    assert macs.base_octets("FA-16-3E-00-00-01") == [0xFA, 0x16, 0x3E, 0, 0, 1]
