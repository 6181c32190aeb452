"""DHCP in the database: the IPv6 modes of subnets and the responders' reserved address."""

from __future__ import annotations

import pytest

from naas_lib import constants
from naas_lib import exceptions as exc

DHCP = constants.DEVICE_OWNER_DHCP


def dhcp_ports(service, ctx, net):
    return service.list_ports(ctx, network_id=net.id, device_owner=DHCP)


# -- IPv6 modes ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"])
def test_ipv6_modes_stored_and_shown(service, ctx, net, mode):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64",
                                ipv6_ra_mode=mode, ipv6_address_mode=mode)
    assert (sub.ipv6_ra_mode, sub.ipv6_address_mode) == (mode, mode)
    assert service.get_subnet(ctx, sub.id) == sub
    assert [s.id for s in service.list_subnets(ctx, ipv6_address_mode=mode)] == [sub.id]


def test_ipv6_modes_default_unset(service, ctx, net):
    v4 = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    v6 = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64")
    for sub in (v4, v6):
        assert (sub.ipv6_ra_mode, sub.ipv6_address_mode) == (None, None)


@pytest.mark.parametrize("attrs, field", [
    ({"cidr": "10.0.0.0/24", "ipv6_ra_mode": "slaac"}, "ipv6_ra_mode"),
    ({"cidr": "10.0.0.0/24", "ipv6_address_mode": "slaac"}, "ipv6_address_mode"),
    ({"cidr": "2001:db8::/64", "ipv6_ra_mode": "bogus"}, "ipv6_ra_mode"),
    ({"cidr": "2001:db8::/64", "ipv6_ra_mode": "slaac",
      "ipv6_address_mode": "dhcpv6-stateful"}, "ipv6_ra_mode"),
    ({"cidr": "2001:db8::/64", "ipv6_address_mode": "slaac", "enable_dhcp": False},
     "enable_dhcp"),
    ({"cidr": "2001:db8::/80", "ipv6_address_mode": "slaac"}, "ipv6_address_mode"),
    ({"cidr": "2001:db8::/80", "ipv6_ra_mode": "dhcpv6-stateless"}, "ipv6_ra_mode"),
])
def test_ipv6_modes_refused_as_neutron_does(service, ctx, net, attrs, field, db_unchanged):
    with db_unchanged(), pytest.raises(exc.InvalidInput) as e:
        service.create_subnet(ctx, network_id=net.id, **attrs)
    assert e.value.kwargs["field"] == field


def test_stateful_on_a_longer_prefix_is_fine(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/80",
                                ipv6_address_mode="dhcpv6-stateful")
    assert sub.ipv6_address_mode == "dhcpv6-stateful"


def test_update_modes_and_dhcp_off_checked_together(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64")
    sub = service.update_subnet(ctx, sub.id, ipv6_ra_mode="slaac")
    assert sub.ipv6_ra_mode == "slaac"
    with pytest.raises(exc.InvalidInput):
        service.update_subnet(ctx, sub.id, enable_dhcp=False)
    with pytest.raises(exc.InvalidInput):
        service.update_subnet(ctx, sub.id, ipv6_address_mode="dhcpv6-stateful")
    sub = service.update_subnet(ctx, sub.id, enable_dhcp=False, ipv6_ra_mode=None)
    assert (sub.enable_dhcp, sub.ipv6_ra_mode) == (False, None)


# -- the responders' reserved address ----------------------------------------------


def test_dhcp_subnet_reserves_the_top_address(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    (port,) = dhcp_ports(service, ctx, net)
    assert [(f.subnet_id, f.ip_address) for f in port.fixed_ips] == [(sub.id, "10.0.0.254")]
    assert (port.device_id, port.binding_host_id, port.project_id) == (
        "reserved_dhcp_port", None, net.project_id)
    guest = service.create_port(ctx, network_id=net.id)
    assert guest.fixed_ips[0].ip_address == "10.0.0.2"
    with pytest.raises(exc.IpAddressInUse):
        service.create_port(ctx, network_id=net.id,
                            fixed_ips=[{"subnet_id": sub.id, "ip_address": "10.0.0.254"}])


def test_one_reservation_port_per_network_one_address_per_subnet(service, ctx, net):
    a = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    b = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64",
                              ipv6_address_mode="dhcpv6-stateful")
    service.create_subnet(ctx, network_id=net.id, cidr="10.1.0.0/24", enable_dhcp=False)
    (port,) = dhcp_ports(service, ctx, net)
    assert sorted(f.subnet_id for f in port.fixed_ips) == sorted([a.id, b.id])


def test_no_reservation_without_dhcp(service, ctx, net):
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", enable_dhcp=False)
    assert dhcp_ports(service, ctx, net) == []


def test_enable_dhcp_flips_create_and_release_the_reservation(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/28")
    service.update_subnet(ctx, sub.id, enable_dhcp=False)
    assert dhcp_ports(service, ctx, net) == []
    # the released address is an ordinary one again
    ips = {service.create_port(ctx, network_id=net.id).fixed_ips[0].ip_address
           for _ in range(13)}
    assert "10.0.0.14" in ips
    # DHCP on for a full subnet: allowed, but nothing to reserve, so nobody serves it
    assert service.update_subnet(ctx, sub.id, enable_dhcp=True).enable_dhcp is True
    assert dhcp_ports(service, ctx, net) == []


def test_subnet_without_pools_reserves_its_top_host_address(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/29",
                                allocation_pools=[])
    (port,) = dhcp_ports(service, ctx, net)
    assert [(f.subnet_id, f.ip_address) for f in port.fixed_ips] == [(sub.id, "10.0.0.6")]



def test_subnet_with_only_the_reservation_left_deletes(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    other = service.create_subnet(ctx, network_id=net.id, cidr="10.1.0.0/24")
    service.delete_subnet(ctx, sub.id)
    (port,) = dhcp_ports(service, ctx, net)
    assert [f.subnet_id for f in port.fixed_ips] == [other.id]
    service.delete_subnet(ctx, other.id)
    assert dhcp_ports(service, ctx, net) == []
    service.delete_network(ctx, net.id)


def test_a_guest_address_still_blocks_subnet_deletion(service, ctx, net):
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    service.create_port(ctx, network_id=net.id)
    with pytest.raises(exc.SubnetInUse) as e:
        service.delete_subnet(ctx, sub.id)
    assert e.value.kwargs["count"] == 1


def test_network_with_a_reservation_deletes(service, ctx, net):
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    service.delete_network(ctx, net.id)
    assert service.list_ports(ctx) == []
