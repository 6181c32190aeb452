"""Port security across two hosts joined by VXLAN: membership sets carry remote members.

Each host is a namespace with its own bridge, br_netfilter settings and
:class:`PortSecurity`; a VXLAN device on each bridge reaches the other host
over an underlay veth. The default group's members live on both hosts.
"""

from __future__ import annotations

import pytest

from naas_lib.drivers.linuxbridge.portsec import SecurityGroup, SecurityGroupRule
from tests.functional.portsec_lab import ping, portsec_lab, sh

V6 = "IPv6"


def _default(members) -> SecurityGroup:
    return SecurityGroup("default", (
        SecurityGroupRule("egress"), SecurityGroupRule("egress", V6),
        SecurityGroupRule("ingress", remote_group_id="default"),
        SecurityGroupRule("ingress", V6, remote_group_id="default")), tuple(members))


@pytest.fixture
def two_hosts():
    with portsec_lab() as lab:
        h1, ps1 = lab.host(1)
        h2, ps2 = lab.host(2)
        sh("ip", "-n", h1, "link", "add", "u1", "type", "veth", "peer", "name", "u2",
           "netns", h2)
        for ns, dev, addr, remote in ((h1, "u1", "192.0.2.1", "192.0.2.2"),
                                      (h2, "u2", "192.0.2.2", "192.0.2.1")):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "local", addr,
               "remote", remote, "dstport", "4789", "dev", dev)
            sh("ip", "-n", ns, "link", "set", "vx0", "master", "br0", "up")
        yield lab, (h1, ps1), (h2, ps2)


def test_default_group_and_anti_spoofing_hold_across_vxlan(two_hosts):
    lab, (h1, ps1), (h2, ps2) = two_hosts
    a = lab.guest(h1, "a", 1)
    b, c = lab.guest(h2, "b", 2), lab.guest(h2, "c", 3)
    for g in (a, b, c):
        sh("ip", "-n", g.ns, "link", "set", "eth0", "mtu", "1450")
    members = [a.ip, b.ip, a.ip6, b.ip6]
    ps1.apply_port(a.spec(("default",)), [_default(members)])
    ps2.apply_port(b.spec(("default",)), [_default(members)])
    ps2.apply_port(c.spec(("other",)), [SecurityGroup("other", (
        SecurityGroupRule("egress"), SecurityGroupRule("egress", V6)))])
    assert ping(a.ns, b.ip) and ping(b.ns, a.ip)
    assert ping(a.ns, b.ip6) and ping(b.ns, a.ip6)
    assert not ping(c.ns, a.ip, deadline=1)  # not a member: a's host drops it
    # A spoofed source on host 1 never reaches host 2.
    sh("ip", "-n", a.ns, "addr", "add", "10.90.0.77/24", "dev", "eth0")
    assert not ping(a.ns, b.ip, source="10.90.0.77", deadline=1)
    # c joins the default group: host 1 learns it by a set update and lets c in.
    ps1.update_members("default", members + [c.ip])
    assert ping(c.ns, a.ip)
