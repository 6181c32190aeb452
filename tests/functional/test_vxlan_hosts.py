"""VXLAN across simulated hosts, kept in step with the database by the sync loop.

Hosts are namespaces on one underlay switch, each with its own service
(linuxbridge driver in that namespace) on one shared SQLite file; guests are
namespaces whose eth0 is a port. Traffic is real ping between guests.
"""

from __future__ import annotations

import pytest

from naas_lib import NetworkService, RequestContext, constants
from naas_lib.cli import connectivity
from naas_lib.drivers.linuxbridge import names
from tests.functional.hosts_topology import ping, wait_until, within_rounds

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])
SYNC_INTERVAL = 0.3


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path}/naas.sqlite"


@pytest.fixture
def api(topo, db_url):
    """The API server's service: no host of its own, binds ports for the hosts."""
    svc = NetworkService.from_settings(database_url=db_url)
    topo.services.append(svc)
    return svc


def network(api, cidr="10.1.0.0/24"):
    net = api.create_network(ADMIN, name=f"net-{cidr}", network_type="vxlan")
    api.create_subnet(ADMIN, network_id=net.id, cidr=cidr)
    return net


def guest(topo, binder, net, host, role):
    """A namespace guest on ``net`` bound to ``host`` through ``binder``'s service."""
    ns = topo.guest(role)
    port = binder.create_port(ADMIN, network_id=net.id, name=role, binding_profile={
        "netns": ns, "ifname": "eth0", "configure_ip": True})
    binder.attach_port(ADMIN, port.id, f"vif-{port.id}", host=host)
    return binder.get_port(ADMIN, port.id), ns


def address(port):
    return port.fixed_ips[0].ip_address


def three_hosts(topo, db_url, api, **options):
    hosts = [topo.host(i, db_url, **options) for i in (1, 2, 3)]
    net = network(api)
    # a1 is bound by the API server (h1's sync plugs it); a2, a3 by their own hosts.
    guests = [guest(topo, api, net, "h1", "a1"),
              guest(topo, hosts[1], net, "h2", "a2"),
              guest(topo, hosts[2], net, "h3", "a3")]
    return hosts, net, guests


def test_guests_reach_each_other_across_three_hosts_and_mtu_holds(topo, db_url, api):
    hosts, net, guests = three_hosts(topo, db_url, api)
    (a1, ns1), (a2, ns2), _ = guests
    assert a1.status == constants.PORT_STATUS_BUILD  # bound elsewhere, not plugged yet
    assert a2.status == constants.PORT_STATUS_ACTIVE
    other = network(api)  # same CIDR, another VNI: must stay apart
    guest(topo, api, other, "h1", "b1")
    guest(topo, api, other, "h2", "b2")
    for host in hosts:
        host.sync()
    assert api.get_port(ADMIN, a1.id).status == constants.PORT_STATUS_ACTIVE

    report = connectivity.check_network(api, ADMIN, net.id, deadline=3)
    assert report.ok, report.problems
    assert sum(p.reached for p in report.probes) == 6  # every ordered pair of a1..a3
    assert connectivity.check_network(api, ADMIN, other.id, deadline=3).ok

    assert net.mtu == 1500 - constants.VXLAN_IPV4_OVERHEAD
    payload = net.mtu - 28  # IPv4 + ICMP headers
    assert ping(ns1, address(a2), size=payload, dont_fragment=True)
    assert not ping(ns1, address(a2), size=payload + 1, dont_fragment=True, deadline=1)


def test_a_fourth_host_is_reached_without_restarting_the_others(topo, db_url, api):
    hosts, net, guests = three_hosts(topo, db_url, api)
    loops = [h.start_sync(SYNC_INTERVAL) for h in hosts]
    (_, ns1), _, _ = guests
    h4 = topo.host(4, db_url)
    h4_loop = h4.start_sync(SYNC_INTERVAL)
    a4, ns4 = guest(topo, h4, net, "h4", "a4")
    vxlan = names.vxlan(net.id)
    everyone = {topo.endpoint(i) for i in (1, 2, 3, 4)}
    # Every host floods to all the others within two of its own rounds after the binding
    # (the round running at the binding may have read the database before it).
    within_rounds(loops + [h4_loop], 2, lambda: all(
        topo.flood_entries(i, vxlan) == everyone - {topo.endpoint(i)} for i in (1, 2, 3, 4)))
    assert ping(ns1, address(a4)) and ping(ns4, address(guests[2][0]))
    assert all(loop.running for loop in loops)
    assert topo.flood_entries(1, names.vxlan(net.id)) == {
        topo.endpoint(2), topo.endpoint(3), topo.endpoint(4)}
    assert connectivity.check_network(api, ADMIN, net.id, deadline=3).ok


def test_a_host_leaving_the_network_is_dropped_from_flooding(topo, db_url, api):
    hosts, net, guests = three_hosts(topo, db_url, api)
    for host in hosts:
        host.sync()
    vxlan = names.vxlan(net.id)
    assert topo.flood_entries(1, vxlan) == {topo.endpoint(2), topo.endpoint(3)}
    a3 = guests[2][0]
    h3 = hosts[2]
    h3.detach_port(ADMIN, a3.id)
    h3.delete_port(ADMIN, a3.id)
    assert names.vxlan(net.id) not in topo.links(topo.host_ns(3))  # its last port left
    for host in hosts[:2]:
        host.sync()
    assert topo.flood_entries(1, vxlan) == {topo.endpoint(2)}
    assert topo.flood_entries(2, vxlan) == {topo.endpoint(1)}
    assert ping(guests[0][1], address(guests[1][0]))


def test_a_host_whose_heartbeat_stops_is_dropped_and_comes_back(topo, db_url, api):
    hosts, net, guests = three_hosts(topo, db_url, api, host_down_time=2)
    vxlan = names.vxlan(net.id)
    for host in hosts:
        host.start_sync(SYNC_INTERVAL)
    wait_until(lambda: topo.flood_entries(1, vxlan) == {topo.endpoint(2), topo.endpoint(3)},
               timeout=10)
    hosts[2].stop_sync()  # h3 "dies": no more heartbeats
    # Each surviving host drops h3 at its own next sync round.
    wait_until(lambda: topo.flood_entries(1, vxlan) == {topo.endpoint(2)}, timeout=10)
    wait_until(lambda: topo.flood_entries(2, vxlan) == {topo.endpoint(1)}, timeout=10)
    alive = {h.name: h.alive for h in hosts[0].list_hosts(ADMIN)}  # its host_down_time
    assert alive == {"h1": True, "h2": True, "h3": False}
    hosts[2].start_sync(SYNC_INTERVAL)  # back again
    wait_until(lambda: topo.flood_entries(1, vxlan) == {topo.endpoint(2), topo.endpoint(3)},
               timeout=10)
    wait_until(lambda: ping(guests[0][1], address(guests[2][0])), timeout=10)
