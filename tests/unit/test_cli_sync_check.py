"""``naas sync`` and ``naas check`` on SQLite with the noop driver and a scripted ping."""

from __future__ import annotations

import json

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib.cli import connectivity, main


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/naas.sqlite"


@pytest.fixture
def api(url):
    svc = NetworkService.from_settings(database_url=url)
    yield svc
    svc.close()


ADMIN = RequestContext(project_id="admin", roles=["admin"])


def bound(api, net, host, netns=None, name=""):
    profile = {"netns": netns, "ifname": "eth0"} if netns else {}
    port = api.create_port(ADMIN, network_id=net.id, name=name, binding_profile=profile)
    api.attach_port(ADMIN, port.id, f"vif-{port.id}", host=host)
    return api.get_port(ADMIN, port.id)


def test_sync_prints_what_changed_and_is_quiet_the_second_time(api, url, capsys):
    net = api.create_network(ADMIN, name="n")
    port = bound(api, net, "h1")
    assert main.main(["--database-url", url, "sync", "--host", "h1"]) == 0
    out = capsys.readouterr().out
    assert f"port {port.id}: BUILD -> ACTIVE" in out
    assert "1 port(s) active" in out
    assert main.main(["--database-url", url, "-f", "json", "sync", "--host", "h1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status_changes"] == {} and report["active_ports"] == [port.id]


def test_sync_without_a_host_is_a_usage_error(url, capsys):
    assert main.main(["--database-url", url, "sync"]) == 2
    assert "needs a host" in capsys.readouterr().err


@pytest.fixture
def guests(api):
    """Network a (two guests) and b (one guest re-using a's first address)."""
    a = api.create_network(ADMIN, name="a")
    api.create_subnet(ADMIN, network_id=a.id, cidr="10.0.0.0/24")
    b = api.create_network(ADMIN, name="b")
    api.create_subnet(ADMIN, network_id=b.id, cidr="10.0.0.0/24")
    a1 = bound(api, a, "h1", "ns-a1", "a1")
    a2 = bound(api, a, "h2", "ns-a2", "a2")
    b1 = bound(api, b, "h1", "ns-b1", "b1")
    bound(api, a, "h1")  # not a namespace guest: ignored
    return a, b, a1, a2, b1


def scripted_network(monkeypatch, links):
    """ping answers when (netns, address) is in ``links``; the answer's MAC is given."""
    monkeypatch.setattr(connectivity, "ping", lambda ns, addr, deadline=2.0: (ns, addr) in links)
    monkeypatch.setattr(connectivity, "_neighbour_mac",
                        lambda ns, addr: links.get((ns, addr)))


def test_check_reports_a_healthy_network(api, url, guests, monkeypatch, capsys):
    a, b, a1, a2, b1 = guests
    ip = {p.id: p.fixed_ips[0].ip_address for p in (a1, a2, b1)}
    assert ip[a1.id] == ip[b1.id]  # same CIDR, same first address
    scripted_network(monkeypatch, {
        ("ns-a1", ip[a2.id]): a2.mac_address, ("ns-a2", ip[a1.id]): a1.mac_address})
    assert main.main(["--database-url", url, "check", "a"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "LEAK" not in out and "FAIL" not in out
    assert "isolated" in out  # b1's address answered by a1 itself: not a leak
    report = connectivity.check_network(api, ADMIN, a.id)
    assert report.ok and len(report.probes) == 3  # a1 does not ping its own address
    assert report.matrix() == [[".", "ok", "-"], ["ok", ".", "isolated"]]


def test_check_fails_on_a_broken_pair_and_on_a_leak(api, url, guests, monkeypatch, capsys):
    a, b, a1, a2, b1 = guests
    ip = {p.id: p.fixed_ips[0].ip_address for p in (a1, a2, b1)}
    scripted_network(monkeypatch, {("ns-a1", ip[a2.id]): a2.mac_address,
                                   ("ns-a2", ip[b1.id]): b1.mac_address})
    assert main.main(["--database-url", url, "check", a.id]) == 1
    out = capsys.readouterr().out
    assert "cannot reach" in out and "must not reach but reaches" in out
    report = connectivity.check_network(api, ADMIN, a.id)
    assert {(p.source, p.target) for p in report.problems} == {(a2.id, a1.id),
                                                                (a2.id, b1.id)}
    assert main.main(["--database-url", url, "-f", "json", "check", "a"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_check_expects_only_what_the_security_groups_allow(api, url, guests, monkeypatch,
                                                           capsys):
    a, b, a1, a2, b1 = guests
    web = api.create_security_group(ADMIN, name="web")  # egress only: nothing comes in
    profile = {"netns": "ns-a3", "ifname": "eth0"}
    a3 = api.create_port(ADMIN, network_id=a.id, name="a3", binding_profile=profile,
                         security_groups=[web.id])
    api.attach_port(ADMIN, a3.id, "vif-a3", host="h1")
    a3 = api.get_port(ADMIN, a3.id)
    ip = {p.id: p.fixed_ips[0].ip_address for p in (a1, a2, a3)}
    links = {("ns-a1", ip[a2.id]): a2.mac_address, ("ns-a2", ip[a1.id]): a1.mac_address}
    scripted_network(monkeypatch, links)
    report = connectivity.check_network(api, ADMIN, a.id)
    # a3 is in no group a1/a2 let in, and its own group lets nothing in: both ways filtered.
    assert report.ok, report.problems
    assert report.cell(a1.id, a3.id) == report.cell(a3.id, a1.id) == "filtered"
    assert report.cell(a1.id, a2.id) == "ok"
    assert main.main(["--database-url", url, "check", "a"]) == 0
    assert "filtered" in capsys.readouterr().out

    # A rule that lets pings in from the default group: a1 -> a3 is expected now.
    api.create_security_group_rule(ADMIN, security_group_id=web.id, direction="ingress",
                                   protocol="icmp", remote_group_id=a1.security_groups[0])
    report = connectivity.check_network(api, ADMIN, a.id)
    assert report.cell(a1.id, a3.id) == "FAIL" and report.cell(a3.id, a1.id) == "filtered"
    links[("ns-a1", ip[a3.id])] = links[("ns-a2", ip[a3.id])] = a3.mac_address
    assert connectivity.check_network(api, ADMIN, a.id).ok

    # A filtered pair that answers anyway is a leak, reported as a problem.
    links[("ns-a3", ip[a1.id])] = a1.mac_address
    report = connectivity.check_network(api, ADMIN, a.id)
    assert report.cell(a3.id, a1.id) == "LEAK"
    assert [(p.source, p.target) for p in report.problems] == [(a3.id, a1.id)]
    assert main.main(["--database-url", url, "check", "a"]) == 1
    assert "security groups do not allow it" in capsys.readouterr().out
    # Port security off on a3: it filters nothing, but a1's and a2's groups still let
    # in only their members, which a3 is not.
    api.update_port(ADMIN, a3.id, port_security_enabled=False, security_groups=[])
    del links[("ns-a3", ip[a1.id])]
    report = connectivity.check_network(api, ADMIN, a.id)
    assert report.ok, report.problems
    assert report.cell(a1.id, a3.id) == report.cell(a2.id, a3.id) == "ok"
    assert report.cell(a3.id, a1.id) == report.cell(a3.id, a2.id) == "filtered"
