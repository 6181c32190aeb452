"""Security groups through the service, enforced by the linuxbridge driver (root only).

Namespace guests on one host namespace (br_netfilter settings on inside it):
the default group lets its members talk and keeps a non-member out; a rule
added through the service opens a TCP port at once and its deletion closes
it for new connections.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from naas_lib.cli import connectivity
from naas_lib.drivers.linuxbridge import netlink as nl
from tests.functional.netns import lab_for, ping, run

pytestmark = pytest.mark.functional

CIDR = "10.78.0.0/24"


@pytest.fixture
def lab(tmp_path):
    with lab_for(tmp_path) as made:
        yield made


def guest(lab, svc, ctx, net, role, **attrs):
    ns = lab.netns(role)
    port = svc.create_port(ctx, network_id=net.id, binding_profile={
        "netns": ns, "ifname": "eth0", "configure_ip": True}, **attrs)
    svc.attach_port(ctx, port.id, f"vif-{role}", instance_id=role)
    return svc.get_port(ctx, port.id), ns


def ip4(port) -> str:
    return port.fixed_ips[0].ip_address


@contextlib.contextmanager
def listening(ns: str, port: int):
    """A TCP listener in ``ns`` that accepts (and closes) connections until the block ends."""
    with nl.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(8)
    s.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        s.close()


def connects(ns: str, address: str, port: int, timeout: float = 1.5) -> bool:
    with nl.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    with s:
        try:
            s.connect((address, port))
        except OSError:
            return False
        return True


def test_default_group_members_talk_a_non_member_does_not_and_rules_open_ports(
        lab, admin_ctx):
    svc, host = lab.host(1)
    assert svc.driver.describe().port_security  # br_netfilter is on in the host namespace
    net = svc.create_network(admin_ctx, name="sg", network_type="local")
    svc.create_subnet(admin_ctx, network_id=net.id, cidr=CIDR, ip_version=4)
    outsiders = svc.create_security_group(admin_ctx, name="outsiders")
    p1, g1 = guest(lab, svc, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc, admin_ctx, net, "g2")
    p3, g3 = guest(lab, svc, admin_ctx, net, "g3", security_groups=[outsiders.id])
    default = next(g for g in svc.list_security_groups(admin_ctx) if g.name == "default")
    assert p1.security_groups == p2.security_groups == (default.id,)
    assert {p1.status, p2.status, p3.status} == {"ACTIVE"}
    ruleset = run("ip", "netns", "exec", host, "nft", "list", "table", "inet", "naas_sg").stdout
    assert f"m4_{default.id}" in ruleset and ip4(p1) in ruleset

    # Members of the default group reach each other; a non-member reaches no one.
    assert ping(g1, ip4(p2)) and ping(g2, ip4(p1))
    assert not ping(g3, ip4(p1)) and not ping(g1, ip4(p3))
    # naas check expects just that: the outsider's pairs are filtered, not failures.
    report = connectivity.check_network(svc, admin_ctx, net.id, isolation=False)
    assert report.ok, report.problems
    assert report.cell(p1.id, p3.id) == report.cell(p3.id, p1.id) == connectivity.FILTERED
    assert report.cell(p1.id, p2.id) == report.cell(p2.id, p1.id) == connectivity.REACHED

    with listening(g1, 8080):
        assert connects(g2, ip4(p1), 8080)          # members: anything
        assert not connects(g3, ip4(p1), 8080)      # the outsider: nothing yet
        rule = svc.create_security_group_rule(
            admin_ctx, security_group_id=default.id, direction="ingress", protocol="tcp",
            port_range_min=8080, port_range_max=8080, remote_group_id=outsiders.id)
        assert connects(g3, ip4(p1), 8080)          # the rule opened the port at once
        assert not ping(g3, ip4(p1))                # and nothing else
        svc.delete_security_group_rule(admin_ctx, rule.id)
        assert not connects(g3, ip4(p1), 8080)      # closed again for new connections

    # Leaving the group ends membership on this host at once.
    svc.update_port(admin_ctx, p2.id, security_groups=[outsiders.id])
    assert not ping(g1, ip4(p2))
    # Port security off: everything goes through again.
    svc.update_port(admin_ctx, p3.id, port_security_enabled=False, security_groups=[])
    assert ping(g1, ip4(p3)) and ping(g2, ip4(p3))
    # Sync finds nothing to repair; after a hand-deleted table it rebuilds.
    assert not svc.sync().failed_ports
    run("ip", "netns", "exec", host, "nft", "delete", "table", "inet", "naas_sg")
    report = svc.sync()
    assert not report.failed_ports
    assert ping(g1, ip4(p3)) and not ping(g3, ip4(p1)) and not ping(g1, ip4(p2))
    assert "naas_sg" in run("ip", "netns", "exec", host, "nft", "list", "tables").stdout
    assert "port security tables" in report.fixed
    again = svc.sync()  # in step: nothing of port security is touched
    assert not [c for c in again.created + again.fixed + again.removed if "port security" in c]


def _member_set(host: str, group_id: str) -> str:
    """The single-address member set of a group as the host's kernel holds it."""
    return run("ip", "netns", "exec", host, "nft", "list", "set", "inet", "naas_sg",
               f"h4_{group_id}").stdout


def test_member_sets_follow_deleted_ports_and_networks_at_once(lab, admin_ctx):
    svc, host = lab.host(1)
    stays = svc.create_network(admin_ctx, name="stays", network_type="local")
    svc.create_subnet(admin_ctx, network_id=stays.id, cidr=CIDR, ip_version=4)
    goes = svc.create_network(admin_ctx, name="goes", network_type="local")
    svc.create_subnet(admin_ctx, network_id=goes.id, cidr="10.79.0.0/24", ip_version=4)
    p1, g1 = guest(lab, svc, admin_ctx, stays, "g1")
    p2, g2 = guest(lab, svc, admin_ctx, goes, "g2")
    p3, _ = guest(lab, svc, admin_ctx, stays, "g3")
    unbound = svc.create_port(admin_ctx, network_id=goes.id)  # a member on no host yet
    default = p1.security_groups[0]
    assert svc.sync().failed_ports == {}
    members = _member_set(host, default)
    assert all(ip4(p) in members for p in (p1, p2, p3, unbound))
    assert ping(g1, ip4(p3))

    # A deleted port leaves the set on this host at once, without a sync round.
    svc.detach_port(admin_ctx, p3.id)
    svc.delete_port(admin_ctx, p3.id)
    assert ip4(p3) not in _member_set(host, default)
    # So do the ports a network deletion takes along (detached, and never bound).
    svc.detach_port(admin_ctx, p2.id)
    svc.delete_network(admin_ctx, goes.id)
    members = _member_set(host, default)
    assert ip4(p2) not in members and ip4(unbound) not in members
    assert ip4(p1) in members


def test_the_tables_go_with_the_last_filtered_port_and_a_sync_makes_none(lab, admin_ctx):
    svc, host = lab.host(1)

    def ours() -> list[str]:
        listed = run("ip", "netns", "exec", host, "nft", "list", "tables").stdout
        return [t for t in ("naas_portsec", "naas_sg") if t in listed]

    assert svc.sync().failed_ports == {}
    assert ours() == []  # a host with no filtered port has no tables
    net = svc.create_network(admin_ctx, name="t", network_type="local")
    svc.create_subnet(admin_ctx, network_id=net.id, cidr=CIDR, ip_version=4)
    p1, g1 = guest(lab, svc, admin_ctx, net, "g1")
    p2, g2 = guest(lab, svc, admin_ctx, net, "g2")
    assert ours() == ["naas_portsec", "naas_sg"] and ping(g1, ip4(p2))
    svc.detach_port(admin_ctx, p1.id)
    assert ours() == ["naas_portsec", "naas_sg"]  # p2 is still filtered
    svc.detach_port(admin_ctx, p2.id)
    assert ours() == []  # gone with the last filtered port
    assert svc.sync().failed_ports == {}
    assert ours() == []
    # A port without port security needs no tables either, plugged or synced.
    p3, _ = guest(lab, svc, admin_ctx, net, "g3", port_security_enabled=False)
    assert p3.status == "ACTIVE"
    assert svc.sync().failed_ports == {}
    assert ours() == []
    # The next filtered port makes them again, and it is filtered.
    p4, g4 = guest(lab, svc, admin_ctx, net, "g4")
    assert ours() == ["naas_portsec", "naas_sg"]
    assert svc.sync().failed_ports == {}
    assert ours() == ["naas_portsec", "naas_sg"]
    assert p4.status == "ACTIVE" and ping(g4, ip4(p3))
