"""The linuxbridge driver with real namespaces, devices and traffic (root only)."""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc
from naas_lib import testing
from naas_lib.drivers import base
from naas_lib.drivers.linuxbridge import names
from tests.functional.netns import lab_for, link_names, ping, run

pytestmark = pytest.mark.functional

CIDR4, CIDR6 = "10.77.0.0/24", "fd77::/64"


@pytest.fixture
def lab(tmp_path):
    with lab_for(tmp_path) as made:
        yield made


def network(svc, ctx, name, cidr4=CIDR4, cidr6=CIDR6, **attrs):
    # These tests are about the L2 plumbing; port security has its own
    # (test_portsec_service and the test_portsec_* dataplane tests).
    attrs.setdefault("port_security_enabled", False)
    net = svc.create_network(ctx, name=name, **attrs)
    subnets = [svc.create_subnet(ctx, network_id=net.id, cidr=cidr4, ip_version=4)]
    if cidr6:
        subnets.append(svc.create_subnet(ctx, network_id=net.id, cidr=cidr6, ip_version=6))
    return net, subnets


def guest(lab, svc, ctx, net, role, fixed_ips=None):
    """A guest namespace reached by a veth port attached (and plugged) on ``svc``'s host."""
    ns = lab.netns(role)
    attrs = {"network_id": net.id,
             "binding_profile": {"netns": ns, "ifname": "eth0", "configure_ip": True}}
    if fixed_ips:
        attrs["fixed_ips"] = fixed_ips
    port = svc.create_port(ctx, **attrs)
    svc.attach_port(ctx, port.id, f"vif-{role}", instance_id=role)
    return svc.get_port(ctx, port.id), ns


def address(port, version):
    return next(f.ip_address for f in port.fixed_ips if (":" in f.ip_address) == (version == 6))


def test_guests_talk_over_v4_and_v6_and_a_same_cidr_network_is_isolated(lab, admin_ctx):
    svc, host = lab.host(1)
    net, _ = network(svc, admin_ctx, "blue", network_type="local")
    red, red_subnets = network(svc, admin_ctx, "red", cidr6=None, network_type="local")
    p1, g1 = guest(lab, svc, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc, admin_ctx, net, "g2")
    # Same CIDR on another network, with an address nobody on "blue" has.
    p3, g3 = guest(lab, svc, admin_ctx, red, "g3",
                   fixed_ips=[{"subnet_id": red_subnets[0].id, "ip_address": "10.77.0.200"}])
    assert {p1.status, p2.status, p3.status} == {"ACTIVE"}
    assert p1.binding_vif_type == "veth"
    out = run("ip", "-n", g1, "-o", "addr", "show", "dev", "eth0").stdout
    assert f"{address(p1, 4)}/24" in out and f"{address(p1, 6)}/64" in out
    assert p1.mac_address in run("ip", "-n", g1, "link", "show", "eth0").stdout
    assert "default via 10.77.0.1" in run("ip", "-n", g1, "route").stdout

    assert ping(g1, address(p2, 4)) and ping(g2, address(p1, 4))
    assert ping(g1, address(p2, 6)) and ping(g2, address(p1, 6))
    assert not ping(g3, address(p1, 4)) and not ping(g3, address(p2, 4))
    assert not ping(g1, "10.77.0.200")
    bridges = {n for n in link_names(host) if n.startswith("brq")}
    assert bridges == {names.bridge(net.id), names.bridge(red.id)}


def test_admin_state_down_stops_traffic_and_up_restores_it(lab, admin_ctx):
    svc, host = lab.host(1)
    net, _ = network(svc, admin_ctx, "blue", cidr6=None, network_type="local")
    p1, g1 = guest(lab, svc, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc, admin_ctx, net, "g2")
    assert ping(g1, address(p2, 4))

    svc.update_port(admin_ctx, p2.id, admin_state_up=False)
    assert svc.get_port(admin_ctx, p2.id).status == "DOWN"
    assert not svc.driver.is_plugged(svc.get_port(admin_ctx, p2.id), net)
    assert not ping(g1, address(p2, 4))

    svc.update_port(admin_ctx, p2.id, admin_state_up=True)
    assert svc.get_port(admin_ctx, p2.id).status == "ACTIVE"
    assert ping(g1, address(p2, 4))

    # The network's admin state reaches its devices on this host at once.
    svc.update_network(admin_ctx, net.id, admin_state_up=False)
    assert {svc.get_port(admin_ctx, p.id).status for p in (p1, p2)} == {"DOWN"}
    assert not ping(g1, address(p2, 4))
    svc.update_network(admin_ctx, net.id, admin_state_up=True)
    assert {svc.get_port(admin_ctx, p.id).status for p in (p1, p2)} == {"ACTIVE"}
    # Both ends flapped: on a loaded host neighbour discovery may take more than 2 s.
    assert ping(g1, address(p2, 4), deadline=5)


def test_tap_port_is_active_on_its_bridge_with_the_network_mtu(lab, admin_ctx):
    svc, host = lab.host(1)
    net = svc.create_network(admin_ctx, name="t", network_type="local", mtu=1400)
    port = svc.create_port(admin_ctx, network_id=net.id)
    svc.attach_port(admin_ctx, port.id, "vif-tap", instance_id="vm1")
    port = svc.get_port(admin_ctx, port.id)
    assert port.status == "ACTIVE"
    assert port.binding_vif_type == "tap"
    dev = port.binding_vif_details["devname"]
    assert dev == names.tap(port.id) and len(dev) <= 15
    shown = run("ip", "-n", host, "-d", "link", "show", dev).stdout
    assert "mtu 1400" in shown and f"master {names.bridge(net.id)}" in shown
    assert "tun type tap" in shown and ",UP" in shown.split(">")[0]
    assert svc.driver.is_plugged(port, net)


def test_repeated_plug_unplug_and_delete_are_no_ops(lab, admin_ctx):
    svc, host = lab.host(1)
    net, _ = network(svc, admin_ctx, "blue", cidr6=None, network_type="local")
    p1, g1 = guest(lab, svc, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc, admin_ctx, net, "g2")
    before = run("ip", "-n", host, "-o", "link").stdout
    svc.plug_port(p1.id)
    svc.plug_port(p1.id)
    assert run("ip", "-n", host, "-o", "link").stdout == before  # same devices, same state
    assert ping(g1, address(p2, 4))

    assert svc.detach_port(admin_ctx, p1.id) is not None
    assert svc.detach_port(admin_ctx, p1.id) is None
    assert names.veth_host(p1.id) not in link_names(host)
    svc.driver.unplug(p1, net)  # already gone: no error
    assert "eth0" not in link_names(g1)  # the guest end went with the host end

    svc.detach_port(admin_ctx, p2.id)
    svc.delete_port(admin_ctx, p2.id)
    assert names.bridge(net.id) not in link_names(host)  # removed with its last port
    svc.driver.unplug(p2, net)
    svc.driver.unplug_many([(p1, net), (p2, net)])
    with pytest.raises(exc.PortNotFound):
        svc.delete_port(admin_ctx, p2.id)
    assert not {n for n in link_names(host) if names.is_owned(n)}


def test_a_failed_plug_leaves_nothing_behind_and_the_port_in_error(lab, admin_ctx):
    svc, host = lab.host(1)
    net, _ = network(svc, admin_ctx, "blue", cidr6=None, network_type="local")
    port = svc.create_port(admin_ctx, network_id=net.id,
                           binding_profile={"netns": f"nlb-missing-{lab.tag}"})
    with pytest.raises(exc.DriverError) as caught:
        svc.attach_port(admin_ctx, port.id, "vif-x")
    port = svc.get_port(admin_ctx, port.id)
    assert port.status == "ERROR"
    assert "nlb-missing" in port.status_reason and "ENOENT" in port.status_reason
    assert caught.value.message.startswith("Driver linuxbridge failed")
    assert not {n for n in link_names(host) if names.is_owned(n)}  # bridge undone too


def test_flat_network_spans_two_hosts_through_their_physical_interfaces(lab, admin_ctx):
    mapping = {"physical_interface_mappings": ["physnet1:phys0"]}
    svc1, h1 = lab.host(1, underlay=True, **mapping)
    svc2, h2 = lab.host(2, underlay=True, **mapping)
    net, _ = network(svc1, admin_ctx, "flat", cidr6=None, network_type="flat",
                     physical_network="physnet1")
    p1, g1 = guest(lab, svc1, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc2, admin_ctx, net, "g2")
    assert p1.binding_host_id == "h1" and p2.binding_host_id == "h2"
    assert f"master {names.bridge(net.id)}" in run("ip", "-n", h1, "link", "show",
                                                   "phys0").stdout
    assert ping(g1, address(p2, 4)) and ping(g2, address(p1, 4))


def test_flat_and_vxlan_need_their_options_named_in_the_binding_error(lab, admin_ctx):
    svc, host = lab.host(1)
    flat = svc.create_network(admin_ctx, name="f", network_type="flat",
                              physical_network="physnet9")
    port = svc.create_port(admin_ctx, network_id=flat.id)
    with pytest.raises(exc.BindingFailed) as caught:
        svc.attach_port(admin_ctx, port.id, "vif-f")
    assert "physical_interface_mappings" in caught.value.message
    assert "physnet9" in caught.value.message
    assert svc.get_port(admin_ctx, port.id).status == "ERROR"
    vx = svc.create_network(admin_ctx, name="v", network_type="vxlan")
    port = svc.create_port(admin_ctx, network_id=vx.id)
    with pytest.raises(exc.BindingFailed) as caught:
        svc.attach_port(admin_ctx, port.id, "vif-v")
    assert "[linuxbridge] vxlan_endpoint" in caught.value.message
    assert not {n for n in link_names(host) if names.is_owned(n)}


def desired(svc, ctx, host, port_ids, peers):
    ports = [svc.get_port(ctx, pid) for pid in port_ids]
    nets = {p.network_id: svc.get_network(ctx, p.network_id) for p in ports}
    subnets = {f.subnet_id: svc.get_subnet(ctx, f.subnet_id) for p in ports for f in p.fixed_ips}
    return base.DesiredState(host=host, ports=[(p, nets[p.network_id]) for p in ports],
                             peers=peers, subnets=subnets)


def flood_entries(netns, device):
    out = run("bridge", "-n", netns, "fdb", "show", "dev", device, check=False).stdout
    return {line.split(" dst ")[1].split()[0] for line in out.splitlines()
            if line.startswith("00:00:00:00:00:00") and " dst " in line}


def test_vxlan_guests_reach_each_other_once_sync_programs_the_peers(lab, admin_ctx):
    svc1, h1 = lab.host(1, underlay=True, vxlan_endpoint=lab.endpoint(1))
    svc2, h2 = lab.host(2, underlay=True, vxlan_endpoint=lab.endpoint(2))
    net, _ = network(svc1, admin_ctx, "vx", cidr6=None, network_type="vxlan")
    assert net.mtu == 1450
    p1, g1 = guest(lab, svc1, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc2, admin_ctx, net, "g2")
    vxdev = names.vxlan(net.id)
    shown = run("ip", "-n", h1, "-d", "link", "show", vxdev).stdout
    assert f"vxlan id {net.segmentation_id}" in shown and "nolearning" in shown
    assert "mtu 1450" in shown

    peers1 = {net.id: [base.Peer("h2", lab.endpoint(2))]}
    peers2 = {net.id: [base.Peer("h1", lab.endpoint(1))]}
    r1 = svc1.driver.sync(desired(svc1, admin_ctx, "h1", [p1.id], peers1))
    svc2.driver.sync(desired(svc2, admin_ctx, "h2", [p2.id], peers2))
    assert any(lab.endpoint(2) in c for c in r1.created)
    assert r1.active_ports == [p1.id] and not r1.failed_ports
    assert flood_entries(h1, vxdev) == {lab.endpoint(2)}
    assert ping(g1, address(p2, 4)) and ping(g2, address(p1, 4))

    again = svc1.driver.sync(desired(svc1, admin_ctx, "h1", [p1.id], peers1))
    assert not again.changed  # in step already

    gone = svc1.driver.sync(desired(svc1, admin_ctx, "h1", [p1.id], {}))
    assert any(lab.endpoint(2) in r for r in gone.removed)
    assert flood_entries(h1, vxdev) == set()
    assert not ping(g1, address(p2, 4))


def test_sync_recreates_fixes_and_removes_only_owned_devices(lab, admin_ctx):
    svc, host = lab.host(1)
    net, _ = network(svc, admin_ctx, "blue", cidr6=None, network_type="local")
    p1, g1 = guest(lab, svc, admin_ctx, net, "g1")
    tap = svc.create_port(admin_ctx, network_id=net.id)
    svc.attach_port(admin_ctx, tap.id, "vif-tap")
    run("ip", "-n", host, "tuntap", "add", "dev", "tapdeadbeef00", "mode", "tap")
    run("ip", "-n", host, "link", "add", "keep0", "type", "veth", "peer", "name", "keep1")
    run("ip", "-n", host, "link", "set", names.tap(tap.id), "nomaster", "mtu", "1300")

    report = svc.driver.sync(desired(svc, admin_ctx, "h1", [p1.id, tap.id], {}))
    assert any("tapdeadbeef00" in r for r in report.removed)
    assert any(names.tap(tap.id) in f for f in report.fixed)
    assert sorted(report.active_ports) == sorted([p1.id, tap.id])
    left = link_names(host)
    assert "tapdeadbeef00" not in left and {"keep0", "keep1"} <= left
    assert svc.driver.is_plugged(svc.get_port(admin_ctx, tap.id), net)

    # The database no longer wants anything here: everything owned goes, the rest stays.
    final = svc.driver.sync(base.DesiredState(host="h1", ports=[], peers={}))
    assert names.bridge(net.id) in " ".join(final.removed)
    assert not {n for n in link_names(host) if names.is_owned(n)}
    assert {"keep0", "keep1"} <= link_names(host)


@pytest.mark.parametrize("vif", ["tap", "veth"])
def test_the_driver_keeps_the_contract_checked_by_naas_lib_testing(lab, admin_ctx, vif):
    svc, host = lab.host(1)
    net, subnets = network(svc, admin_ctx, "contract", network_type="local")
    attrs = {}
    if vif == "veth":
        attrs["binding_profile"] = {"netns": lab.netns("g1"), "ifname": "eth0",
                                    "configure_ip": True}
    port = svc.create_port(admin_ctx, network_id=net.id, **attrs)
    port = svc.update_port(admin_ctx, port.id, binding_host_id="h1")
    assert port.binding_vif_type == vif
    net = svc.get_network(admin_ctx, net.id)
    testing.check_driver_contract(svc.driver, port, net, subnets)
    assert names.bridge(net.id) not in link_names(host)  # the last port took its bridge
