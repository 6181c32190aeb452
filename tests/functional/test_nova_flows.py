"""Nova's flows moving a guest between namespace hosts joined by VXLAN, with real traffic.

Three hosts share one SQLite file; each runs its own service (linuxbridge
driver in its namespace) and Nova's calls go to ``nova_api.API`` on the
service of the host Nova would call them on. The moving guest is a namespace
whose ``eth0`` is its port (vif type ``veth``, the library's demo type); a
live-migrated guest gets a new namespace on the destination, as a QEMU
process would be new there. A peer guest on h3 checks that after each flow
the guest answers at the same address and nothing of it is left on the old
host. The moved guest speaks first (as a migrated VM's gratuitous ARP does)
so the peer's VXLAN device learns where its MAC now is.
"""

from __future__ import annotations

import types

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib.drivers.linuxbridge import names
from naas_lib.virt import nova_api
from tests.functional import fdb
from tests.functional.hosts_topology import ping

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])
NOVA = types.SimpleNamespace(project_id="admin", user_id="nova", roles=["admin"],
                             is_admin=True)


@pytest.fixture
def cloud(topo, tmp_path):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    hosts = {f"h{i}": topo.host(i, url) for i in (1, 2, 3)}
    conductor = NetworkService.from_settings(database_url=url)
    topo.services.append(conductor)
    api = {name: nova_api.API(svc) for name, svc in hosts.items()}
    api["conductor"] = nova_api.API(conductor)
    net = conductor.create_network(ADMIN, name="moves", network_type="vxlan")
    conductor.create_subnet(ADMIN, network_id=net.id, cidr="10.3.0.0/24")
    peer_ns = topo.guest("peer")
    peer = conductor.create_port(ADMIN, network_id=net.id, binding_profile={
        "netns": peer_ns, "ifname": "eth0", "configure_ip": True})
    hosts["h3"].attach_port(ADMIN, peer.id, f"vif-{peer.id}", host="h3")
    return types.SimpleNamespace(topo=topo, hosts=hosts, api=api, net=net, peer_ns=peer_ns,
                                 conductor=conductor)


def _sync(cloud, *names):
    for name in names:
        cloud.hosts[name].sync()


def _reachable(cloud, guest_ns, address):
    peer_addr = cloud.conductor.list_ports(ADMIN, device_id="")[0].fixed_ips[0].ip_address
    assert ping(guest_ns, peer_addr, deadline=5), "moved guest cannot reach the peer"
    assert ping(cloud.peer_ns, address, deadline=5), "peer cannot reach the moved guest"


def _learned_at(cloud, host_index, port, old_index):
    """The MAC is learned on the guest's device on its host, on the VXLAN device on the
    peer's host, nowhere on the old host, and pinned to no endpoint anywhere."""
    topo, mac = cloud.topo, port.mac_address
    vxlan = names.vxlan(cloud.net.id)
    assert fdb.learned_on(topo.host_ns(host_index), mac) == {names.veth_host(port.id)}
    assert fdb.learned_on(topo.host_ns(3), mac) == {vxlan}
    assert fdb.learned_on(topo.host_ns(old_index), mac) <= {vxlan}
    for index in (host_index, 3, old_index):
        assert fdb.pinned(topo.host_ns(index), mac) == []


def _left_on(cloud, host_index, port_id):
    links = cloud.topo.links(cloud.topo.host_ns(host_index))
    return {names.veth_host(port_id), names.tap(port_id)} & links


def test_live_migration_then_evacuation_keep_the_guest_reachable(cloud):
    g1 = cloud.topo.guest("vm-on-h1")
    inst = types.SimpleNamespace(uuid="0e6f7c1a-0000-4000-8000-000000000001", name="vm",
                                 project_id="admin", host="h1")
    req = types.SimpleNamespace(objects=[types.SimpleNamespace(
        network_id=cloud.net.id, port_id=None, address=None,
        binding_profile={"netns": g1, "ifname": "eth0", "configure_ip": True})])
    vif = cloud.api["h1"].allocate_for_instance(NOVA, inst, req, bind_host_id="h1")[0]
    address = vif["network"]["subnets"][0]["ips"][0]["address"]
    _sync(cloud, "h3", "h1")
    _reachable(cloud, g1, address)

    # live migration h1 -> h2: the destination's guest is a new namespace
    g2 = cloud.topo.guest("vm-on-h2")
    mig = {"migration_type": "live-migration", "source_compute": "h1", "dest_compute": "h2"}
    cloud.api["conductor"].bind_ports_to_host(NOVA, inst, "h2", port_profiles={
        vif["id"]: {"netns": g2, "ifname": "eth0", "configure_ip": True}})
    cloud.api["h2"].setup_networks_on_host(NOVA, inst, "h2")
    assert _left_on(cloud, 2, vif["id"])  # destination ready before the switch
    cloud.api["h1"].migrate_instance_start(NOVA, inst, mig)
    cloud.api["h1"].cleanup_instance_network_on_host(NOVA, inst, "h1")
    inst.host = "h2"
    cloud.api["h2"].migrate_instance_finish(NOVA, inst, mig, None)
    _sync(cloud, "h1", "h2", "h3")
    assert not _left_on(cloud, 1, vif["id"])
    assert "eth0" not in cloud.topo.links(g1)
    _reachable(cloud, g2, address)
    port = cloud.conductor.get_port(ADMIN, vif["id"])
    assert port.status == "ACTIVE"
    _learned_at(cloud, 2, port, old_index=1)

    # evacuation h2 -> h1 while h2 is "down" (its service is not called)
    g3 = cloud.topo.guest("vm-back-on-h1")
    cloud.conductor.update_port(ADMIN, vif["id"], binding_profile={
        "netns": g3, "ifname": "eth0", "configure_ip": True})
    cloud.api["h1"].setup_instance_network_on_host(NOVA, inst, "h1")
    assert _left_on(cloud, 2, vif["id"])  # the dead host was not touched
    _sync(cloud, "h2")  # it comes back: removes instead of re-plugging
    assert not _left_on(cloud, 2, vif["id"])
    _sync(cloud, "h1", "h3")
    inst.host = "h1"
    _reachable(cloud, g3, address)
    _learned_at(cloud, 1, port, old_index=2)
    info = cloud.api["h1"].get_instance_nw_info(NOVA, inst)
    assert info[0]["network"]["subnets"][0]["ips"][0]["address"] == address
