"""IPv6 from the responder: router advertisements and DHCPv6 per Neutron's subnet modes."""

from __future__ import annotations

import json
import subprocess

import netaddr
import pytest

from naas_lib.drivers.linuxbridge import dhcp_config
from naas_lib.drivers.linuxbridge.dhcp_config import NetworkSpec, PortSpec
from tests.functional.dhcp_lab import lab_for, new_id, sh
from tests.functional.hosts_topology import wait_until

PREFIX = "2001:db8:77::/64"
MAC = "fa:16:3e:00:06:01"

pytestmark = pytest.mark.functional


@pytest.fixture
def dhcp_lab(tmp_path):
    yield from lab_for(tmp_path)


def _serve(lab, mode: str, fixed: str):
    host, manager = lab.host(1)
    net_id, sub_id = new_id(), new_id()
    bridge = lab.network(host, net_id, mtu=1420)
    sub = dhcp_config.SubnetSpec(
        id=sub_id, cidr=PREFIX, ip_version=6, server_address="2001:db8:77::2",
        gateway_ip="2001:db8:77::1", dns_nameservers=("2001:db8:77::53",),
        ipv6_ra_mode=mode, ipv6_address_mode=mode)
    port = PortSpec(id=new_id(), mac=MAC, fixed_ips=((sub_id, fixed),))
    assert manager.ensure(NetworkSpec(id=net_id, bridge=bridge, mtu=1420, subnets=(sub,),
                                      ports=(port,))) == "started"
    return lab.guest(host, bridge, port.id, MAC)


def _link_local_now(netns: str) -> None:
    """DHCPv6 is sent from the link-local address: make it usable at once (no DAD wait)."""
    sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
    sh("ip", "-n", netns, "link", "set", "eth0", "down")
    sh("ip", "-n", netns, "link", "set", "eth0", "up")


def _global_addresses(netns: str) -> set[str]:
    out = sh("ip", "-n", netns, "-j", "-6", "addr", "show", "dev", "eth0", "scope", "global")
    return {a["local"] for e in json.loads(out.stdout or "[]") for a in e.get("addr_info", [])
            if "local" in a}


def test_slaac_guest_forms_its_port_address_from_the_advertisement(dhcp_lab):
    eui64 = str(netaddr.EUI(MAC).ipv6(netaddr.IPNetwork(PREFIX).value))
    guest = _serve(dhcp_lab, dhcp_config.SLAAC, eui64)
    wait_until(lambda: eui64 in _global_addresses(guest.netns), timeout=20)
    mtu = sh("ip", "netns", "exec", guest.netns, "cat", "/proc/sys/net/ipv6/conf/eth0/mtu")
    assert mtu.stdout.strip() == "1420"
    # the responder is not the gateway: no default route through it
    routes = sh("ip", "-n", guest.netns, "-6", "route", "show", "default").stdout
    assert routes.strip() == ""


def test_stateful_guest_gets_its_port_address_by_dhcpv6(dhcp_lab):
    guest = _serve(dhcp_lab, dhcp_config.DHCPV6_STATEFUL, "2001:db8:77::42")
    log = dhcp_lab.tmp / "dhclient6.events"
    script = dhcp_lab.tmp / "dhclient6.sh"
    # dhclient runs its script with a clean environment: the log path is written in
    script.write_text('#!/bin/sh\necho "$reason $new_ip6_address $new_dhcp6_name_servers"'
                      f' >> {log}\n')
    script.chmod(0o755)
    _link_local_now(guest.netns)
    result = subprocess.run(
        ["ip", "netns", "exec", guest.netns, "dhclient", "-6", "-1", "-sf", str(script),
         "-lf", str(dhcp_lab.tmp / "leases6"), "-pf", str(dhcp_lab.tmp / "dhclient6.pid"),
         "eth0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    bound = [line.split() for line in log.read_text().splitlines()
             if line.startswith("BOUND6")]
    assert bound and bound[-1][1] == "2001:db8:77::42", log.read_text()
    assert bound[-1][2] == "2001:db8:77::53"


def test_stateless_guest_forms_its_address_and_gets_dns_by_dhcpv6(dhcp_lab):
    eui64 = str(netaddr.EUI(MAC).ipv6(netaddr.IPNetwork(PREFIX).value))
    guest = _serve(dhcp_lab, dhcp_config.DHCPV6_STATELESS, eui64)
    _link_local_now(guest.netns)
    wait_until(lambda: eui64 in _global_addresses(guest.netns), timeout=20)
    log = dhcp_lab.tmp / "dhclient6.events"
    script = dhcp_lab.tmp / "dhclient6.sh"
    script.write_text('#!/bin/sh\necho "$reason $new_dhcp6_name_servers"'
                      f' >> {log}\n')
    script.chmod(0o755)
    result = subprocess.run(
        ["ip", "netns", "exec", guest.netns, "dhclient", "-6", "-S", "-1", "-sf", str(script),
         "-lf", str(dhcp_lab.tmp / "leases6"), "-pf", str(dhcp_lab.tmp / "dhclient6.pid"),
         "eth0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # dhclient 4.4 names the reply to an information request INFORM6 or RENEW6
    answers = [line.split() for line in log.read_text().splitlines()
               if line.split()[0] in ("INFORM6", "RENEW6") and len(line.split()) > 1]
    assert answers and answers[-1][1] == "2001:db8:77::53", log.read_text()
