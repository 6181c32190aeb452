"""``naas check`` with real traffic, and ``admin_state_up`` applied to devices at once."""

from __future__ import annotations

import pytest

from naas_lib import NetworkService, RequestContext, constants
from naas_lib.cli import main
from tests.functional.hosts_topology import ping

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])


@pytest.fixture
def one_host(topo, tmp_path):
    """Host h1 (a namespace) with two guests on network "blue" and one on "red" (same CIDR)."""
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    h1 = NetworkService.from_settings(database_url=url, driver="linuxbridge", host="h1",
                                      linuxbridge={"netns": topo.netns("h1"),
                                                   "dhcp_state_path": topo.dhcp_state})
    topo.services.append(h1)
    guests = {}
    for name in ("blue", "red"):
        net = h1.create_network(ADMIN, name=name, network_type="local")
        h1.create_subnet(ADMIN, network_id=net.id, cidr="10.7.0.0/24")
        for i in (1, 2) if name == "blue" else (1,):
            ns = topo.guest(f"{name}{i}")
            port = h1.create_port(ADMIN, network_id=net.id, name=f"{name}{i}",
                                  binding_profile={"netns": ns, "configure_ip": True})
            h1.attach_port(ADMIN, port.id, f"vif-{port.id}", host="h1")
            guests[f"{name}{i}"] = (h1.get_port(ADMIN, port.id), ns)
    return url, h1, guests


def test_naas_check_prints_the_matrix_and_fails_when_a_pair_cannot_talk(one_host, capsys):
    url, h1, guests = one_host
    assert main.main(["--database-url", url, "check", "blue", "--deadline", "2"]) == 0
    out = capsys.readouterr().out
    assert "blue1" in out and "red1" in out and "isolated" in out and "OK" in out
    h1.update_port(ADMIN, guests["blue2"][0].id, admin_state_up=False)
    assert main.main(["--database-url", url, "check", "blue", "--deadline", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "cannot reach" in out


def test_admin_state_down_stops_traffic_and_up_restores_it(one_host):
    _, h1, guests = one_host
    ns1, b2 = guests["blue1"][1], guests["blue2"][0]
    target = b2.fixed_ips[0].ip_address
    assert ping(ns1, target)
    down = h1.update_port(ADMIN, b2.id, admin_state_up=False)
    assert down.status == constants.PORT_STATUS_DOWN
    assert not ping(ns1, target, deadline=1)
    up = h1.update_port(ADMIN, b2.id, admin_state_up=True)
    assert up.status == constants.PORT_STATUS_ACTIVE
    assert ping(ns1, target)
    assert not h1.sync().changed  # the update already made the host match
