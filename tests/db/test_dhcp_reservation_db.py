"""The DHCP reservation's queries on every backend (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc


def reservation(svc, ctx, net):
    return svc.list_ports(ctx, network_id=net.id, device_owner="network:dhcp")


def test_reservation_follows_subnets_and_enable_dhcp(db_service, ctx):
    svc = db_service
    net = svc.create_network(ctx, name="n")
    a = svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    b = svc.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64",
                          ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    assert svc.get_subnet(ctx, b.id).ipv6_ra_mode == "slaac"
    (port,) = reservation(svc, ctx, net)
    assert {(f.subnet_id, f.ip_address) for f in port.fixed_ips} == {
        (a.id, "10.0.0.254"), (b.id, "2001:db8::ffff:ffff:ffff:ffff")}
    assert svc.list_ports(ctx, network_id=net.id) == []
    guest = svc.create_port(ctx, network_id=net.id)
    with pytest.raises(exc.SubnetInUse):
        svc.delete_subnet(ctx, a.id)
    svc.delete_port(ctx, guest.id)
    svc.update_subnet(ctx, a.id, enable_dhcp=False)
    (port,) = reservation(svc, ctx, net)
    assert [f.subnet_id for f in port.fixed_ips] == [b.id]
    svc.delete_subnet(ctx, b.id)
    assert reservation(svc, ctx, net) == []
    svc.update_subnet(ctx, a.id, enable_dhcp=True)
    svc.delete_subnet(ctx, a.id)
    svc.delete_network(ctx, net.id)
