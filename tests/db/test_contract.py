"""The service's database contract, on SQLite (file), PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from naas_lib import NetworkService, RequestContext, constants
from naas_lib import exceptions as exc

CTX = RequestContext(project_id="tenant-1", user_id="u1")
ADMIN = RequestContext(project_id="admin", user_id="root", roles=["admin"])


def _net_with_subnet(svc, cidr="10.20.0.0/24", enable_dhcp=True, **kw):
    net = svc.create_network(CTX, name="net", **kw)
    sub = svc.create_subnet(CTX, network_id=net.id, cidr=cidr, enable_dhcp=enable_dhcp)
    return net, sub


def test_round_trip_keeps_every_attribute(db_service):
    net = db_service.create_network(CTX, name="réseau ☃", description="d" * 255)
    got = db_service.get_network(CTX, net.id)
    assert got == net
    assert got.admin_state_up is True and got.shared is False
    sub = db_service.create_subnet(CTX, network_id=net.id, cidr="2001:db8:1::/64",
                                   dns_nameservers=["2001:db8::53", "2001:db8::54"],
                                   host_routes=[{"destination": "2001:db8:9::/48",
                                                 "nexthop": "2001:db8:1::fe"}])
    assert db_service.get_subnet(CTX, sub.id) == sub
    assert sub.dns_nameservers == ("2001:db8::53", "2001:db8::54")
    port = db_service.create_port(ADMIN, network_id=net.id, project_id="tenant-1",
                                  binding_profile={"netns": "g1", "list": [1, "x"]},
                                  name="p", device_owner="compute:nova")
    assert db_service.get_port(CTX, port.id) == port
    assert dict(port.binding_profile) == {"netns": "g1", "list": (1, "x")}
    assert port.fixed_ips[0].ip_address == "2001:db8:1::2"


def test_quantum_rules(db_service):
    net, _ = _net_with_subnet(db_service)
    port = db_service.create_port(CTX, network_id=net.id)
    db_service.attach_port(CTX, port.id, "vif-a", instance_id="vm-a", host="h1")
    with pytest.raises(exc.AlreadyAttached):
        db_service.attach_port(CTX, port.id, "vif-b")
    other = db_service.create_port(CTX, network_id=net.id)
    with pytest.raises(exc.InterfaceInUse):
        db_service.attach_port(CTX, other.id, "vif-a")
    with pytest.raises(exc.PortInUse):
        db_service.delete_port(CTX, port.id)
    with pytest.raises(exc.NetworkInUse):
        db_service.delete_network(CTX, net.id)
    with pytest.raises(exc.RequestedStateInvalid):
        db_service.update_port(CTX, port.id, status="ACTIVE")
    db_service.detach_port(CTX, port.id)
    db_service.delete_network(CTX, net.id)
    with pytest.raises(exc.NetworkNotFound):
        db_service.get_network(CTX, net.id)
    with pytest.raises(exc.PortNotFound):
        db_service.get_port(CTX, other.id)


def test_subnet_in_use_and_address_reuse(db_service):
    # DHCP off: this counts the pool's five addresses (the reservation would take one)
    net, sub = _net_with_subnet(db_service, cidr="10.30.0.0/29", enable_dhcp=False)
    ports = [db_service.create_port(CTX, network_id=net.id) for _ in range(5)]
    assert [p.fixed_ips[0].ip_address for p in ports] == [f"10.30.0.{i}" for i in range(2, 7)]
    with pytest.raises(exc.IpAddressGenerationFailure):
        db_service.create_port(CTX, network_id=net.id)
    with pytest.raises(exc.SubnetInUse):
        db_service.delete_subnet(CTX, sub.id)
    db_service.delete_port(CTX, ports[2].id)
    again = db_service.create_port(CTX, network_id=net.id)
    assert again.fixed_ips[0].ip_address == "10.30.0.4"
    for p in ports[:2] + ports[3:] + [again]:
        db_service.delete_port(CTX, p.id)
    db_service.delete_subnet(CTX, sub.id)


def test_requested_address_and_mac_uniqueness(db_service):
    net, sub = _net_with_subnet(db_service)
    p1 = db_service.create_port(CTX, network_id=net.id, mac_address="FA:16:3E:00:00:01",
                                fixed_ips=[{"ip_address": "10.20.0.50"}])
    assert p1.mac_address == "fa:16:3e:00:00:01"
    with pytest.raises(exc.MacAddressInUse):
        db_service.create_port(CTX, network_id=net.id, mac_address="fa:16:3e:00:00:01")
    with pytest.raises(exc.IpAddressInUse):
        db_service.create_port(CTX, network_id=net.id,
                               fixed_ips=[{"subnet_id": sub.id, "ip_address": "10.20.0.50"}])
    # The same MAC is fine on another network.
    net2, _ = _net_with_subnet(db_service, cidr="10.21.0.0/24")
    assert db_service.create_port(CTX, network_id=net2.id,
                                  mac_address="fa:16:3e:00:00:01").network_id == net2.id


def test_big_subnets_allocate_without_enumeration(db_service):
    net = db_service.create_network(CTX, name="big")
    # DHCP off: the responders' reservation would hold the top address asked for below
    v4 = db_service.create_subnet(CTX, network_id=net.id, cidr="10.0.0.0/8", enable_dhcp=False)
    v6 = db_service.create_subnet(CTX, network_id=net.id, cidr="2001:db8:aa::/64",
                                  enable_dhcp=False)
    port = db_service.create_port(CTX, network_id=net.id)
    assert {(f.subnet_id, f.ip_address) for f in port.fixed_ips} == {
        (v4.id, "10.0.0.2"), (v6.id, "2001:db8:aa::2")}
    last = db_service.create_port(CTX, network_id=net.id, fixed_ips=[
        {"subnet_id": v6.id, "ip_address": "2001:db8:aa::ffff:ffff:ffff:ffff"}])
    # RFC 5952: a single zero field is written out, not compressed.
    assert last.fixed_ips[0].ip_address == "2001:db8:aa:0:ffff:ffff:ffff:ffff"


def test_segments_unique_and_released(db_service):
    nets = [db_service.create_network(ADMIN, name=f"n{i}") for i in range(3)]
    vnis = [n.segmentation_id for n in nets]
    assert vnis == [100, 101, 102]
    assert all(n.network_type == constants.TYPE_VXLAN for n in nets)
    with pytest.raises(exc.SegmentationIdInUse):
        db_service.create_network(ADMIN, network_type="vxlan", segmentation_id=101)
    db_service.delete_network(ADMIN, nets[1].id)
    assert db_service.create_network(ADMIN, name="again").segmentation_id == 101
    flat = db_service.create_network(ADMIN, network_type="flat", physical_network="physnet1")
    assert flat.mtu == 1500
    with pytest.raises(exc.FlatNetworkInUse):
        db_service.create_network(ADMIN, network_type="flat", physical_network="physnet1")


def test_stale_revision_changes_nothing(db_service):
    net, _ = _net_with_subnet(db_service)
    updated = db_service.update_network(CTX, net.id, name="renamed",
                                        expected_revision=net.revision_number)
    assert updated.revision_number == net.revision_number + 1
    with pytest.raises(exc.RevisionConflict):
        db_service.update_network(CTX, net.id, name="lost", expected_revision=1)
    assert db_service.get_network(CTX, net.id).name == "renamed"


def test_paging_and_filters_agree_across_backends(db_service):
    net, sub = _net_with_subnet(db_service)
    ports = [db_service.create_port(CTX, network_id=net.id, name=f"p{i % 3}")
             for i in range(7)]
    ids = sorted(p.id for p in ports)
    page1 = db_service.list_ports(CTX, limit=3)
    page2 = db_service.list_ports(CTX, limit=3, marker=page1[-1].id)
    page3 = db_service.list_ports(CTX, limit=3, marker=page2[-1].id)
    assert [p.id for p in page1 + page2 + page3] == ids
    back = db_service.list_ports(CTX, limit=3, marker=page3[0].id, page_reverse=True)
    assert [p.id for p in back] == [p.id for p in page2]
    named = db_service.list_ports(CTX, name=["p0", "p2"], sorts=[("name", False)])
    assert [p.name for p in named] == ["p2", "p2", "p0", "p0", "p0"]
    by_ip = db_service.list_ports(CTX, fixed_ips={"ip_address": "10.20.0.4"})
    assert [p.id for p in by_ip] == [ports[2].id]


def test_deployment_settings_must_agree(db_url):
    first = NetworkService.from_settings(database_url=db_url, create_schema=True,
                                         vni_ranges=["10:20"])
    first.close()
    with pytest.raises(exc.ConfigMismatch):
        NetworkService.from_settings(database_url=db_url, vni_ranges=["10:30"])
    with pytest.raises(exc.ConfigMismatch):
        NetworkService.from_settings(database_url=db_url, vni_ranges=["10:20"],
                                     base_mac="fa:16:3f:00:00:00")
    NetworkService.from_settings(database_url=db_url, vni_ranges=["10:20"]).close()


def test_status_batch_with_a_missing_port_records_nothing(db_service):
    """A host's status write for several ports is one transaction on every backend."""
    net, _sub = _net_with_subnet(db_service)
    ports = [db_service.create_port(CTX, network_id=net.id) for _ in range(3)]
    plugging = db_service.parts.plugging
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(exc.PortNotFound, match=missing):
        plugging.set_port_statuses([(ports[0].id, constants.PORT_STATUS_ACTIVE, None),
                                    (missing, constants.PORT_STATUS_ACTIVE, None),
                                    (ports[1].id, constants.PORT_STATUS_ACTIVE, None)])
    assert [db_service.get_port(CTX, p.id) for p in ports] == ports
    plugging.set_port_statuses([(p.id, constants.PORT_STATUS_ERROR, "no tap") for p in ports])
    after = [db_service.get_port(CTX, p.id) for p in ports]
    assert [(p.status, p.status_reason, p.revision_number) for p in after] == [
        (constants.PORT_STATUS_ERROR, "no tap", p.revision_number + 1) for p in ports]


def test_ports_on_several_networks_get_the_addresses_port_by_port_would(db_service):
    """One port per network in one call (a boot's NICs): their addresses are chosen
    together, lowest first, released first, an address taken by hand skipped."""
    (a, _), (b, _) = (_net_with_subnet(db_service, cidr=f"10.2{i}.0.0/24", enable_dhcp=False)
                      for i in (1, 2))
    db_service.create_port(CTX, network_id=a.id, fixed_ips=[{"ip_address": "10.21.0.2"}])

    def both():
        made = db_service.create_ports(CTX, [{"network_id": a.id}, {"network_id": b.id}])
        return made, [p.fixed_ips[0].ip_address for p in made]

    first, ips = both()
    assert ips == ["10.21.0.3", "10.22.0.2"]
    assert both()[1] == ["10.21.0.4", "10.22.0.3"]
    for port in first:
        db_service.delete_port(CTX, port.id)
    assert both()[1] == ["10.21.0.3", "10.22.0.2"]
    assert both()[1] == ["10.21.0.5", "10.22.0.4"]
