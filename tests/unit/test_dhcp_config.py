"""What the DHCP/RA responder is told (pure rendering, no root)."""

from __future__ import annotations

import pytest

from naas_lib.drivers.linuxbridge import dhcp
from naas_lib.drivers.linuxbridge import dhcp_config as c

NET = "0123abcd-0000-4000-8000-000000000001"
V4 = c.SubnetSpec(id="sub-v4", cidr="10.0.0.0/24", ip_version=4, server_address="10.0.0.2",
                  gateway_ip="10.0.0.1", dns_nameservers=("10.0.0.53", "2001:db8::53"),
                  host_routes=(("172.16.0.0/12", "10.0.0.254"),), lease_time=3600)


def v6(mode_ra, mode_addr, **kwargs):
    return c.SubnetSpec(id="sub-v6", cidr="2001:db8:1::/64", ip_version=6,
                        server_address="2001:db8:1::2", ipv6_ra_mode=mode_ra,
                        ipv6_address_mode=mode_addr, **kwargs)


def spec(*subnets, ports=None):
    ports = ports if ports is not None else (
        c.PortSpec(id="p1", mac="FA:16:3E:00:00:01",
                   fixed_ips=(("sub-v4", "10.0.0.11"), ("sub-v6", "2001:db8:1::11"))),)
    return c.NetworkSpec(id=NET, bridge="brq0123abcd-00", mtu=1450, subnets=subnets,
                         ports=ports)


def args(s):
    return c.command_line(s, pid_file="/s/pid", hosts_file="/s/hosts", opts_file="/s/opts")


def test_static_entries_only_no_dns_and_unknown_macs_ignored():
    line = args(spec(V4))
    for flag in ("--port=0", "--dhcp-ignore=tag:!known", "--dhcp-hostsfile=/s/hosts",
                 "--dhcp-optsfile=/s/opts", "--pid-file=/s/pid", "--interface=dhcp0",
                 "--bind-interfaces", "--conf-file=/dev/null"):
        assert flag in line
    assert f"--dhcp-range=set:{V4.tag},10.0.0.0,static,255.255.255.0,3600s" in line
    assert "--enable-ra" not in line


def test_ipv4_options_router_dns_routes_and_mtu():
    opts = c.opts_file(spec(V4)).splitlines()
    tag = f"tag:{V4.tag}"
    assert f"{tag},option:router,10.0.0.1" in opts
    assert f"{tag},option:dns-server,10.0.0.53" in opts  # the IPv6 server is not offered
    routes = "172.16.0.0/12,10.0.0.254,0.0.0.0/0,10.0.0.1"
    assert f"{tag},option:classless-static-route,{routes}" in opts
    assert f"{tag},option:mtu,1450" in opts


def test_no_gateway_or_dns_means_empty_options_not_the_responder_itself():
    bare = c.SubnetSpec(id="s", cidr="10.1.0.0/24", ip_version=4, server_address="10.1.0.2")
    opts = c.opts_file(spec(bare)).splitlines()
    assert f"tag:{bare.tag},option:router" in opts
    assert f"tag:{bare.tag},option:dns-server" in opts
    assert not any("classless" in line for line in opts)


def test_hosts_file_maps_each_mac_to_its_fixed_ips_only_on_served_subnets():
    text = c.hosts_file(spec(V4, v6(None, c.DHCPV6_STATEFUL)))
    assert text.splitlines() == ["fa:16:3e:00:00:01,10.0.0.11",
                                 "fa:16:3e:00:00:01,[2001:db8:1::11]"]
    # SLAAC addresses are the guest's own business: not in the hosts file
    assert c.hosts_file(spec(V4, v6(c.SLAAC, c.SLAAC))).splitlines() == [
        "fa:16:3e:00:00:01,10.0.0.11"]
    # stateless: the port is known (answered) without an address
    assert c.hosts_file(spec(v6(c.DHCPV6_STATELESS, c.DHCPV6_STATELESS))).splitlines() == [
        "fa:16:3e:00:00:01,set:known-stateless"]


@pytest.mark.parametrize("ra, addr, mode, ra_on", [
    (c.SLAAC, c.SLAAC, "ra-only", True),
    (c.DHCPV6_STATELESS, c.DHCPV6_STATELESS, "ra-stateless", True),
    (c.DHCPV6_STATEFUL, c.DHCPV6_STATEFUL, "static", True),
    (None, c.DHCPV6_STATEFUL, "static", False),
    (None, c.DHCPV6_STATELESS, "static", False),
    (None, None, "static", False),
    (None, c.SLAAC, None, False),
])
def test_ipv6_modes_as_neutron_defines_them(ra, addr, mode, ra_on):
    subnet = v6(ra, addr)
    line = args(spec(subnet))
    ranges = [a for a in line if a.startswith("--dhcp-range")]
    if mode is None:
        assert ranges == []
    else:
        assert ranges == [f"--dhcp-range=set:{subnet.tag},2001:db8:1::,{mode},64,86400s"]
    assert ("--enable-ra" in line) is ra_on
    if ra_on:  # MTU advertised; router lifetime 0: the responder is not the gateway
        assert "--ra-param=dhcp0,mtu:1450,30,0" in line


def test_dhcp_off_serves_nothing_and_needs_no_responder():
    off = c.SubnetSpec(**{**V4.__dict__, "enable_dhcp": False})
    assert not spec(off).wanted
    assert not spec(V4, ports=()).wanted
    assert spec(V4).wanted
    assert c.hosts_file(spec(off, V4)).splitlines() == ["fa:16:3e:00:00:01,10.0.0.11"]


@pytest.mark.parametrize("kwargs", [
    {"cidr": "10.0.0.0/24", "ip_version": 6},
    {"server_address": "10.9.9.9"},
    {"ipv6_ra_mode": c.SLAAC},
    {"lease_time": 0},
])
def test_bad_subnets_are_refused(kwargs):
    base = {"id": "s", "cidr": "10.0.0.0/24", "ip_version": 4, "server_address": "10.0.0.2"}
    with pytest.raises(ValueError):
        c.SubnetSpec(**{**base, **kwargs})


def test_mismatched_ipv6_modes_are_refused():
    with pytest.raises(ValueError):
        v6(c.SLAAC, c.DHCPV6_STATEFUL)


def test_responder_mac_is_stable_per_network_and_locally_administered():
    mac = c.responder_mac(NET)
    assert mac == c.responder_mac(NET) != c.responder_mac("ffff" + NET[4:])
    assert int(mac.split(":")[0], 16) & 0x02 and not int(mac.split(":")[0], 16) & 0x01


def test_responder_veth_name_fits_ifnamsiz_with_its_own_prefix():
    name = dhcp.veth_name(NET)
    assert name == "dhv0123abcd-00" and len(name) <= 15


def test_nft_table_keeps_responder_frames_between_it_and_port_devices():
    rules = dhcp.nft_ruleset()
    assert rules.startswith("table bridge naas_dhcp\ndelete table bridge naas_dhcp\n")
    for prefix in ("tap", "nvh"):
        assert f'iifname "dhv*" oifname "{prefix}*" accept' in rules
        assert f'oifname "dhv*" iifname "{prefix}*" accept' in rules
    assert 'iifname "dhv*" drop' in rules and 'oifname "dhv*" drop' in rules
    assert "flush ruleset" not in rules


def test_network_spec_from_library_objects():
    from types import SimpleNamespace as NS
    network = NS(id=NET, mtu=1450)
    v4 = NS(id="sub-v4", cidr="10.0.0.0/24", ip_version=4, gateway_ip="10.0.0.1",
            dns_nameservers=("10.0.0.53",), enable_dhcp=True,
            host_routes=(NS(destination="172.16.0.0/12", nexthop="10.0.0.254"),))
    unreserved = NS(id="sub-x", cidr="10.9.0.0/24", ip_version=4, gateway_ip=None,
                    dns_nameservers=(), enable_dhcp=True, host_routes=())
    port = NS(id="p1", network_id=NET, mac_address="fa:16:3e:00:00:01",
              fixed_ips=(NS(subnet_id="sub-v4", ip_address="10.0.0.11"),))
    other = NS(id="p2", network_id="another", mac_address="fa:16:3e:00:00:02", fixed_ips=())
    result = c.network_spec(network, "brq0123abcd-00", [v4, unreserved], [port, other],
                            {"sub-v4": "10.0.0.2"})
    assert [s.id for s in result.subnets] == ["sub-v4"]
    assert result.subnets[0].host_routes == (("172.16.0.0/12", "10.0.0.254"),)
    assert result.ports == (c.PortSpec(id="p1", mac="fa:16:3e:00:00:01",
                                       fixed_ips=(("sub-v4", "10.0.0.11"),)),)
    assert result.mtu == 1450 and result.wanted
