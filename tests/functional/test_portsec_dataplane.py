"""Port security and security groups with real traffic between namespace guests.

One host namespace with a bridge; guests whose ``eth0`` is the peer of a
veth on it. Every check is a packet a guest sends and another receives
(or not), so the tests prove what a tenant would notice.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from naas_lib.drivers.linuxbridge.portsec import (
    AddressPair,
    DesiredPortSecurity,
    SecurityGroup,
    SecurityGroupRule,
)
from tests.functional.portsec_lab import (
    PortsecLab,
    echoes,
    in_ns,
    ping,
    portsec_lab,
    received,
    sh,
)

V4, V6 = "IPv4", "IPv6"
OPEN = (SecurityGroupRule("ingress"), SecurityGroupRule("ingress", V6),
        SecurityGroupRule("egress"), SecurityGroupRule("egress", V6))


def default_group(members=()) -> SecurityGroup:
    """Neutron's default group: egress anything, ingress only from members."""
    return SecurityGroup("default", (
        SecurityGroupRule("egress"), SecurityGroupRule("egress", V6),
        SecurityGroupRule("ingress", remote_group_id="default"),
        SecurityGroupRule("ingress", V6, remote_group_id="default")), tuple(members))


@pytest.fixture
def lab():
    with portsec_lab() as made:
        yield made


def _three(lab: PortsecLab, groups=("open",), rules=OPEN):
    host, ps = lab.host()
    guests = [lab.guest(host, n, i) for n, i in (("a", 1), ("b", 2), ("c", 3))]
    group = SecurityGroup("open", rules)
    for g in guests:
        ps.apply_port(g.spec(groups), [group])
    return host, ps, guests


def test_capable_reads_the_host_settings_without_changing_them(lab):
    host, ps = lab.host()
    assert ps.capable()[0] is True
    in_ns(host, "sysctl", "-qw", "net.bridge.bridge-nf-call-ip6tables=0")
    ok, reason = ps.capable()
    assert not ok and "net.bridge.bridge-nf-call-ip6tables=1" in reason
    assert in_ns(host, "sysctl", "-n", "net.bridge.bridge-nf-call-ip6tables").stdout.strip() == "0"


def test_changed_mac_or_ip_loses_connectivity_until_changed_back(lab):
    host, ps, (a, b, _) = _three(lab)
    assert ping(a.ns, b.ip)
    sh("ip", "-n", a.ns, "link", "set", "eth0", "address", "fa:16:3e:99:99:99")
    assert not ping(a.ns, b.ip, deadline=1)
    sh("ip", "-n", a.ns, "link", "set", "eth0", "address", a.mac)
    assert ping(a.ns, b.ip)
    sh("ip", "-n", a.ns, "addr", "del", f"{a.ip}/24", "dev", "eth0")
    sh("ip", "-n", a.ns, "addr", "add", f"{lab.guests['a'].ip[:-1]}77/24", "dev", "eth0")
    assert not ping(a.ns, b.ip, deadline=1)
    sh("ip", "-n", a.ns, "addr", "flush", "dev", "eth0", "scope", "global")
    sh("ip", "-n", a.ns, "addr", "add", f"{a.ip}/24", "dev", "eth0")
    assert ping(a.ns, b.ip)


def test_allowed_address_pair_makes_the_extra_ip_work(lab):
    host, ps, (a, b, _) = _three(lab)
    sh("ip", "-n", a.ns, "addr", "add", "10.90.0.50/24", "dev", "eth0")
    assert not ping(a.ns, b.ip, source="10.90.0.50", deadline=1)
    ps.apply_port(a.spec(("open",), pairs=[AddressPair("10.90.0.48/30")]),
                  [SecurityGroup("open", OPEN)])
    assert ping(a.ns, b.ip, source="10.90.0.50")
    assert ping(a.ns, b.ip)


def _b_mac_seen_by_c(c, b) -> str | None:
    out = sh("ip", "-n", c.ns, "neigh", "show", b.ip, "dev", "eth0").stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else None


def test_arp_spoofing_does_not_poison_a_neighbour(lab):
    host, ps, (a, b, c) = _three(lab)

    def spoof_then_look() -> str | None:
        sh("ip", "-n", c.ns, "neigh", "flush", "dev", "eth0")
        assert ping(c.ns, b.ip)
        assert _b_mac_seen_by_c(c, b) == b.mac
        time.sleep(1.1)  # past the neighbour table's locktime
        # Unsolicited replies and requests from a, claiming b's address for a's MAC.
        lab.send_arp(a.ns, 2, a.mac, b.ip, c.mac, c.ip)
        lab.send_arp(a.ns, 1, a.mac, b.ip, "ff:ff:ff:ff:ff:ff", c.ip)
        time.sleep(0.2)
        return _b_mac_seen_by_c(c, b)

    # Control: with port security off on a, the same frames poison c's cache.
    ps.apply_port(a.spec(enabled=False))
    assert spoof_then_look() == a.mac
    ps.apply_port(a.spec(("open",)), [SecurityGroup("open", OPEN)])
    assert spoof_then_look() == b.mac


def test_neighbour_advertisement_spoofing_does_not_poison_a_neighbour(lab):
    host, ps, (a, b, c) = _three(lab)

    def spoof_then_look() -> str | None:
        sh("ip", "-n", c.ns, "neigh", "flush", "dev", "eth0")
        assert ping(c.ns, b.ip6)
        time.sleep(1.1)
        # a claims b's address for its own MAC, once from b's address and once from its
        # own (which passes the source check: only the advertisement's target is wrong).
        lab.send_na(a.ns, a.mac, b.ip6, b.ip6, c.mac, c.ip6)
        lab.send_na(a.ns, a.mac, a.ip6, b.ip6, c.mac, c.ip6)
        time.sleep(0.2)
        out = sh("ip", "-n", c.ns, "neigh", "show", b.ip6, "dev", "eth0").stdout.split()
        return out[out.index("lladdr") + 1] if "lladdr" in out else None

    ps.apply_port(a.spec(enabled=False))
    assert spoof_then_look() == a.mac  # control: unfiltered, the cache is poisoned
    ps.apply_port(a.spec(("open",)), [SecurityGroup("open", OPEN)])
    assert spoof_then_look() == b.mac


def test_dhcp_server_replies_only_from_the_trusted_responder(lab):
    host, ps = lab.host(prefixes=("nsd",))
    a, c = lab.guest(host, "a", 1), lab.guest(host, "c", 3)
    responder = lab.guest(host, "r", 9, device=f"nsd{lab.tag}")
    ps.apply_port(a.spec(("default",)), [default_group([a.ip, c.ip])])
    ps.apply_port(c.spec(("default",)), [default_group([a.ip, c.ip])])
    client = lab.listen(a.ns, 68, udp=True)
    lab.udp_send(c.ns, 67, a.ip, 68, b"rogue")
    assert received(client) is None
    lab.udp_send(c.ns, 6767, a.ip, 68, b"control")
    assert received(client) == b"control"  # the port and group allow it: only sport 67 is cut
    lab.udp_send(responder.ns, 67, a.ip, 68, b"offer")
    assert received(client) == b"offer"  # the responder is no member, yet it is accepted


def test_default_group_members_reach_each_other_and_a_non_member_does_not(lab):
    host, ps = lab.host()
    a, b, c = (lab.guest(host, n, i) for n, i in (("a", 1), ("b", 2), ("c", 3)))
    members = [a.ip, b.ip, a.ip6, b.ip6]
    ps.apply_port(a.spec(("default",)), [default_group(members)])
    ps.apply_port(b.spec(("default",)), [default_group(members)])
    ps.apply_port(c.spec(("other",)), [SecurityGroup("other", OPEN)])
    assert ping(a.ns, b.ip) and ping(b.ns, a.ip)
    assert ping(a.ns, b.ip6) and ping(b.ns, a.ip6)
    assert not ping(c.ns, a.ip, deadline=1)
    assert not ping(c.ns, a.ip6, deadline=1)
    assert ping(a.ns, c.ip)  # egress anything; c's group lets everything in
    # c joins the group: a set update on this host, and c gets in.
    ps.update_members("default", members + [c.ip])
    assert ping(c.ns, a.ip)
    assert not ping(c.ns, a.ip6, deadline=1)


def test_tcp_port_opened_by_a_rule_and_closed_with_established_connection_kept(lab):
    host, ps = lab.host()
    a, b = lab.guest(host, "a", 1), lab.guest(host, "b", 2)
    base = (SecurityGroupRule("egress"), SecurityGroupRule("egress", V6))
    web = SecurityGroupRule("ingress", protocol="tcp", port_range_min=5000,
                            port_range_max=5001)
    ps.apply_port(a.spec(("web",)), [SecurityGroup("web", base)])
    ps.apply_port(b.spec(("web",)), [SecurityGroup("web", base)])
    nc = subprocess.Popen(
        ["ip", "netns", "exec", b.ns, "busybox", "nc", "-l", "-p", "5001", "-e", "/bin/cat"])
    try:
        lab.listen(b.ns, 5000)
        time.sleep(0.2)
        assert lab.connect(a.ns, b.ip, 5001) is None
        assert lab.connect(a.ns, b.ip, 5000) is None
        ps.update_group_rules(SecurityGroup("web", base + (web,)))
        busybox = lab.connect(a.ns, b.ip, 5001)
        assert busybox is not None and echoes(busybox, b"hello nc")
        conn = lab.connect(a.ns, b.ip, 5000)
        assert conn is not None and echoes(conn)
        ps.update_group_rules(SecurityGroup("web", base))
        assert echoes(conn, b"still up")
        assert lab.connect(a.ns, b.ip, 5000) is None
        # A reconciliation rebuild (both tables replaced in one transaction) keeps it too.
        report = ps.sync(DesiredPortSecurity((a.spec(("web",)), b.spec(("web",))),
                                             (SecurityGroup("web", base),)))
        assert report.rebuilt
        assert echoes(conn, b"after the rebuild")
        assert lab.connect(a.ns, b.ip, 5000) is None
    finally:
        nc.kill()
        nc.wait()


def test_remote_ip_prefix_and_remote_group_rules_and_icmp(lab):
    host, ps = lab.host()
    a, b, c = (lab.guest(host, n, i) for n, i in (("a", 1), ("b", 2), ("c", 3)))
    egress = (SecurityGroupRule("egress"), SecurityGroupRule("egress", V6))
    server = SecurityGroup("server", egress + (
        SecurityGroupRule("ingress", protocol="tcp", port_range_min=8080, port_range_max=8080,
                          remote_ip_prefix=f"{c.ip}/32"),
        SecurityGroupRule("ingress", protocol="icmp", port_range_min=8, port_range_max=0,
                          remote_group_id="clients"),
        SecurityGroupRule("ingress", V6, protocol="icmpv6", port_range_min=128,
                          remote_group_id="clients")))
    clients = SecurityGroup("clients", egress, (b.ip, b.ip6))
    ps.apply_port(a.spec(("server",)), [server, clients])
    ps.apply_port(b.spec(("clients",)), [clients])
    ps.apply_port(c.spec(("clients",)), [clients])
    lab.listen(a.ns, 8080)
    assert lab.connect(c.ns, a.ip, 8080) is not None
    assert lab.connect(b.ns, a.ip, 8080) is None
    assert ping(b.ns, a.ip) and ping(b.ns, a.ip6)
    assert not ping(c.ns, a.ip, deadline=1)  # c has the group but is not in its member set
    assert not ping(c.ns, a.ip6, deadline=1)


def test_port_security_off_lets_everything_through(lab):
    host, ps = lab.host()
    a, c = lab.guest(host, "a", 1), lab.guest(host, "c", 3)
    ps.apply_port(a.spec(("default",)), [default_group([a.ip])])
    ps.apply_port(c.spec(("other",)), [SecurityGroup("other", OPEN)])
    assert not ping(c.ns, a.ip, deadline=1)
    ps.apply_port(a.spec(enabled=False))
    assert ping(c.ns, a.ip) and ping(c.ns, a.ip6)
    sh("ip", "-n", a.ns, "addr", "add", "10.90.0.66/24", "dev", "eth0")
    assert ping(a.ns, c.ip, source="10.90.0.66")
    assert "nvha" not in ps.ruleset()


def test_sync_repairs_hand_deleted_rules_and_drops_gone_ports(lab):
    host, ps = lab.host()
    a, b, c = (lab.guest(host, n, i) for n, i in (("a", 1), ("b", 2), ("c", 3)))
    group = default_group([a.ip, b.ip])
    other = SecurityGroup("other", OPEN)
    desired = DesiredPortSecurity((a.spec(("default",)), b.spec(("default",)),
                                   c.spec(("other",))), (group, other))
    assert ps.sync(desired).rebuilt
    assert not ps.sync(desired).changed
    sh("ip", "-n", a.ns, "link", "set", "eth0", "address", "fa:16:3e:99:99:99")
    assert not ping(a.ns, b.ip, deadline=1)
    in_ns(host, "nft", "flush", "chain", "bridge", "naas_portsec", "spoof")
    assert ping(a.ns, b.ip)  # drift: the anti-spoofing rules were deleted by hand
    report = ps.sync(desired)
    assert report.repaired and report.rebuilt
    assert not ping(a.ns, b.ip, deadline=1)
    sh("ip", "-n", a.ns, "link", "set", "eth0", "address", a.mac)
    assert not ping(c.ns, a.ip, deadline=1)
    # b's port goes away: its rules go with the next sync.
    gone = DesiredPortSecurity(desired.ports[::2], desired.groups)
    report = ps.sync(gone)
    assert report.removed == [b.device]
    assert b.device not in ps.ruleset()
    assert ping(a.ns, b.ip)  # b is unfiltered now (its port security is no longer known)


def test_unplugged_port_rules_go_and_other_tables_are_untouched(lab):
    host, ps = lab.host()
    a, b = lab.guest(host, "a", 1), lab.guest(host, "b", 2)
    in_ns(host, "nft", "add", "table", "bridge", "naas_dhcp")
    in_ns(host, "nft", "add", "chain", "bridge", "naas_dhcp", "keep")
    ps.apply_port(a.spec(("open",)), [SecurityGroup("open", OPEN)])
    ps.apply_port(b.spec(("open",)), [SecurityGroup("open", OPEN)])
    assert ps.remove_port(a.device) is True
    assert ps.remove_port(a.device) is False
    text = ps.ruleset()
    assert a.device not in text and b.device in text
    ps.sync(DesiredPortSecurity((b.spec(("open",)),), (SecurityGroup("open", OPEN),)))
    listing = in_ns(host, "nft", "list", "ruleset").stdout
    assert "table bridge naas_dhcp" in listing and "chain keep" in listing
    assert ping(a.ns, b.ip)


def test_ipv6_link_local_and_neighbour_discovery_work_under_the_default_group(lab):
    host, ps = lab.host()
    a, b = lab.guest(host, "a", 1), lab.guest(host, "b", 2)
    group = default_group([a.ip6, b.ip6])
    ps.apply_port(a.spec(("default",)), [group])
    ps.apply_port(b.spec(("default",)), [group])
    assert ping(a.ns, b.ip6)
    out = sh("ip", "-n", a.ns, "neigh", "show", b.ip6).stdout
    assert b.mac in out
    # With a group that lets everything in, only a spoofed source is dropped.
    ps.apply_port(b.spec(("open",)), [SecurityGroup("open", OPEN)])
    sh("ip", "-n", a.ns, "addr", "add", f"{a.ip6[:-1]}7/64", "dev", "eth0", "nodad")
    assert not ping(a.ns, b.ip6, source=f"{a.ip6[:-1]}7", deadline=1)
    assert ping(a.ns, b.ip6, source=a.ip6)
