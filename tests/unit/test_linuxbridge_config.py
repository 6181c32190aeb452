"""The linuxbridge driver's names and negotiation (no kernel, no root)."""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc
from naas_lib.drivers.linuxbridge import names
from naas_lib.drivers.linuxbridge.driver import LinuxBridgeDriver

PORT_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def make(service_factory, **options):
    return service_factory(driver="linuxbridge", host="h1", linuxbridge=options).driver


def test_device_names_fit_ifnamsiz_and_carry_owned_prefixes():
    for name in (names.tap(PORT_ID), names.veth_host(PORT_ID), names.bridge(PORT_ID),
                 names.vxlan(PORT_ID)):
        assert len(name) <= 15 and names.is_owned(name)
    assert names.tap(PORT_ID) == "tap0f1e2d3c-4b"  # what Nova names a port's tap
    assert not names.is_owned("eth0") and not names.is_owned("virbr0")


def test_without_options_only_local_networks_and_never_vlan(make_service):
    driver = make(make_service)
    caps = driver.describe()
    assert caps.network_types == frozenset({"local"})
    assert caps.vif_types == frozenset({"tap", "veth"})
    # Port security follows the host's br_netfilter settings (read, never written).
    assert caps.port_security is driver.portsec.portsec.capable()[0]
    caps = make(make_service, vxlan_endpoint="192.0.2.1",
                physical_interface_mappings=["physnet1:eth1"]).describe()
    assert caps.network_types == frozenset({"local", "flat", "vxlan"})


def test_refusals_name_the_missing_option(make_service, admin_ctx):
    svc = make_service(driver="linuxbridge", host="h1", flat_networks=["*"],
                       network_vlan_ranges=["physnet1:100:200"])
    driver = svc.driver
    vx = svc.create_network(admin_ctx, name="v", network_type="vxlan")
    flat = svc.create_network(admin_ctx, name="f", network_type="flat",
                              physical_network="physnet2")
    vlan = svc.create_network(admin_ctx, name="q", network_type="vlan",
                              physical_network="physnet1")
    assert "[linuxbridge] vxlan_endpoint" in driver.check_network(vx)
    reason = driver.check_network(flat)
    assert "physnet2" in reason and "[linuxbridge] physical_interface_mappings" in reason
    assert "vlan" in driver.check_network(vlan)
    assert driver.check_network(svc.create_network(admin_ctx, name="l",
                                                   network_type="local")) is None


def test_bind_chooses_tap_or_veth_from_the_profile(make_service, admin_ctx):
    svc = make_service(driver="linuxbridge", host="h1")
    net = svc.create_network(admin_ctx, name="l", network_type="local")
    tap = svc.create_port(admin_ctx, network_id=net.id)
    binding = svc.driver.bind_port(tap, net)
    assert binding.vif_type == "tap"
    assert binding.vif_details == {"bridge_name": names.bridge(net.id),
                                   "devname": names.tap(tap.id), "mtu": net.mtu}
    veth = svc.create_port(admin_ctx, network_id=net.id,
                           binding_profile={"netns": "guest1", "configure_ip": True})
    binding = svc.driver.bind_port(veth, net)
    assert binding.vif_type == "veth"
    assert binding.vif_details["devname"] == names.veth_host(veth.id)
    assert binding.vif_details["ifname"] == "eth0"
    bad = svc.create_port(admin_ctx, network_id=net.id,
                          binding_profile={"netns": "g", "ifname": "x" * 16})
    with pytest.raises(exc.BindingFailed):
        svc.driver.bind_port(bad, net)


def test_malformed_mappings_are_refused():
    with pytest.raises(exc.InvalidInput, match="physical_interface_mappings"):
        LinuxBridgeDriver._parse_mappings(["physnet1"])
    with pytest.raises(exc.InvalidInput, match="mapped twice"):
        LinuxBridgeDriver._parse_mappings(["p:eth0", "p:eth1"])
