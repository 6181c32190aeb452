"""DHCP through the library: ports made and attached with the service get their addresses.

A simulated host (namespace) runs the service with the Linux bridge driver;
its guests are namespaces whose ``eth0`` is a port (``binding_profile``
``netns``, no ``configure_ip``) and which ask with busybox ``udhcpc``. The
responder is started, updated and removed by the library itself: nothing
here touches dnsmasq except to read its pid or, once, to kill it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from naas_lib import NetworkService, RequestContext
from tests.functional.dhcp_lab import DhcpLab, Guest, need
from tests.functional.hosts_topology import Topology, wait_until

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])


@pytest.fixture
def lab(tmp_path, topo):
    need("dnsmasq", "busybox", "nft")
    lab = DhcpLab(tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()


@pytest.fixture
def host(topo, tmp_path) -> NetworkService:
    return topo.host(1, f"sqlite:///{tmp_path}/naas.sqlite", linuxbridge={"dhcp": True})


def setup_network(svc: NetworkService, cidr: str = "10.20.0.0/24", **subnet_attrs):
    net = svc.create_network(ADMIN, name="dhcp", network_type="vxlan")
    sub = svc.create_subnet(ADMIN, network_id=net.id, cidr=cidr,
                            dns_nameservers=["192.0.2.53"],
                            host_routes=[{"destination": "172.16.0.0/16",
                                          "nexthop": cidr.rsplit(".", 2)[0] + ".0.1"}],
                            **subnet_attrs)
    return net, sub


def attach_guest(topo: Topology, lab: DhcpLab, svc: NetworkService, net, role: str):
    ns = topo.guest(role)
    port = svc.create_port(ADMIN, network_id=net.id, binding_profile={"netns": ns,
                                                                       "ifname": "eth0"})
    svc.attach_port(ADMIN, port.id, f"vif-{port.id}", host="h1")
    return svc.get_port(ADMIN, port.id), Guest(lab, ns, port.mac_address)


def responder_pid(topo: Topology, net_id: str, index: int = 1) -> int | None:
    pid_file = Path(topo.dhcp_state) / topo.host_ns(index) / net_id / "pid"
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state == "Z" else pid


def responder_namespaces(topo: Topology) -> list[str]:
    return topo.responder_namespaces()


def server_address(svc: NetworkService, net, sub) -> str:
    (reservation,) = svc.list_ports(ADMIN, network_id=net.id, device_owner="network:dhcp")
    return next(f.ip_address for f in reservation.fixed_ips if f.subnet_id == sub.id)


def test_attached_port_gets_its_address_gateway_routes_and_mtu_by_dhcp(topo, lab, host):
    assert host.get_host(ADMIN, "h1").capabilities["dhcp"] is True
    net, sub = setup_network(host)
    port, guest = attach_guest(topo, lab, host, net, "g1")
    lease = guest.ask()
    assert lease is not None, "no DHCP answer for a port attached through the library"
    assert lease["ip"] == port.fixed_ips[0].ip_address
    assert lease["router"] == sub.gateway_ip
    assert lease["dns"] == "192.0.2.53"
    assert lease["mtu"] == str(net.mtu)
    assert "172.16.0.0/16" in lease["routes"]
    assert lease["serverid"] == server_address(host, net, sub)
    # Nova is told to use DHCP on it, with that server
    vif = host.get_port(ADMIN, port.id)
    assert vif.binding_host_id == "h1"


def test_fixed_ip_change_reaches_the_running_responder_without_restart(topo, lab, host):
    net, sub = setup_network(host)
    port, guest = attach_guest(topo, lab, host, net, "g1")
    guest.start()
    old = port.fixed_ips[0].ip_address
    guest.wait_event(lambda e: e["event"] == "bound" and e["ip"] == old)
    pid = responder_pid(topo, net.id)
    assert pid is not None
    new = "10.20.0.77"
    host.update_port(ADMIN, port.id, fixed_ips=[{"subnet_id": sub.id, "ip_address": new}])
    guest.renew()
    guest.wait_event(lambda e: e["event"] in ("bound", "renew") and e["ip"] == new, timeout=15)
    assert responder_pid(topo, net.id) == pid


def test_dhcp_off_stops_answers_and_removes_the_responder(topo, lab, host):
    net, sub = setup_network(host)
    _port, guest = attach_guest(topo, lab, host, net, "g1")
    assert guest.ask() is not None
    assert responder_namespaces(topo)
    host.update_subnet(ADMIN, sub.id, enable_dhcp=False)
    assert responder_pid(topo, net.id) is None
    assert responder_namespaces(topo) == []
    assert guest.ask(timeout=3) is None
    host.update_subnet(ADMIN, sub.id, enable_dhcp=True)
    assert guest.ask() is not None


def test_sync_restarts_a_dead_responder_and_last_port_removes_it(topo, lab, host):
    net, _sub = setup_network(host)
    port, guest = attach_guest(topo, lab, host, net, "g1")
    pid = responder_pid(topo, net.id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: responder_pid(topo, net.id) is None, timeout=5)
    report = host.sync()
    assert any("dhcp responder" in line for line in report.created + report.fixed), report
    assert responder_pid(topo, net.id) not in (None, pid)
    assert guest.ask() is not None
    host.detach_port(ADMIN, port.id)
    host.delete_port(ADMIN, port.id)
    assert responder_pid(topo, net.id) is None
    assert responder_namespaces(topo) == []
    leftovers = subprocess.run(["ip", "-n", topo.host_ns(1), "-br", "link"],
                               capture_output=True, text=True).stdout
    assert "dhv" not in leftovers


def test_qemu_guest_booted_through_the_provisioner_gets_both_nics_by_dhcp(topo, lab, host,
                                                                         tmp_path):
    """Two NICs on two networks, as Nova boots it: QEMU opens the library's taps by name."""
    from naas_lib.virt.provisioner import NicRequest, Provisioner
    from tests.guests import qemu

    nets = []
    for index, (mtu, cidr) in enumerate(((1450, "10.51.0.0/24"), (1400, "10.52.0.0/24"))):
        net = host.create_network(ADMIN, name=f"q{index}", network_type="vxlan", mtu=mtu)
        prefix = cidr.rsplit(".", 2)[0]
        sub = host.create_subnet(ADMIN, network_id=net.id, cidr=cidr, host_routes=[
            {"destination": f"172.{20 + index}.0.0/16", "nexthop": f"{prefix}.0.250"}])
        neighbour_port, neighbour = attach_guest(topo, lab, host, net, f"nb{index}")
        nets.append((net, sub, prefix, neighbour_port, neighbour))
    inst = {"uuid": "vm-qemu", "name": "vmq", "project_id": ADMIN.project_id}
    with qemu.guest_pool(tmp_path / "qemu") as pool:
        info = Provisioner(host).allocate_for_instance(
            ADMIN, inst, [NicRequest(network_id=n.id) for n, *_ in nets], "h1")
        for vif, (_net, sub, *_rest) in zip(info, nets, strict=True):
            meta = vif["network"]["subnets"][0]["meta"]
            assert meta["dhcp_server"] == server_address(host, _net, sub)
        vm = pool.start("vm", topo.host_ns(1),
                        [qemu.Nic(vif["devname"], vif["address"]) for vif in info])
        vm.wait_for(r"NAAS-READY nics=eth0,eth1", timeout=90)
        for index, (vif, (net, sub, prefix, _p, neighbour)) in enumerate(
                zip(info, nets, strict=True)):
            lease = vm.wait_lease(f"eth{index}", timeout=60)
            address = vif["network"]["subnets"][0]["ips"][0]["address"]
            assert lease["ip"] == address
            assert lease["mask"] == "24"
            assert lease["router"] == sub.gateway_ip
            assert lease["mtu"] == str(net.mtu)
            assert lease["routes"] == (f"172.{20 + index}.0.0/16,{prefix}.0.250,"
                                       f"0.0.0.0/0,{sub.gateway_ip}")
            assert neighbour.ask() is not None
            assert subprocess.run(["ip", "netns", "exec", neighbour.netns, "ping", "-c1",
                                   "-W3", address], capture_output=True).returncode == 0
        Provisioner(host).deallocate_for_instance(ADMIN, inst)


def test_a_change_made_elsewhere_reaches_a_host_in_one_sync_round(topo, lab, tmp_path):
    """The API server (no host) changes a subnet; host h2 applies it at its next round."""
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    api = NetworkService.from_settings(database_url=url)
    topo.services.append(api)
    h2 = topo.host(2, url, linuxbridge={"dhcp": True})
    net, sub = setup_network(api)
    ns = topo.guest("far")
    port = api.create_port(ADMIN, network_id=net.id, binding_profile={"netns": ns,
                                                                       "ifname": "eth0"})
    api.attach_port(ADMIN, port.id, f"vif-{port.id}", host="h2")
    report = h2.sync()  # plugs the port and starts the responder
    assert any(line.startswith("dhcp responder") for line in report.created), report
    guest = Guest(lab, ns, port.mac_address)
    assert guest.ask()["dns"] == "192.0.2.53"
    pid = responder_pid(topo, net.id, 2)
    api.update_subnet(ADMIN, sub.id, dns_nameservers=["192.0.2.54"])
    report = h2.sync()
    assert f"dhcp responder {net.id} (hosts/options)" in report.fixed
    assert responder_pid(topo, net.id, 2) == pid
    assert guest.ask()["dns"] == "192.0.2.54"


def test_detach_stops_serving_that_port_only_even_after_a_change_made_elsewhere(topo, lab,
                                                                                 host):
    net, _sub = setup_network(host)
    (p1, _g1), (p2, g2), (p3, g3) = [attach_guest(topo, lab, host, net, f"g{i}")
                                     for i in range(1, 4)]
    pid = responder_pid(topo, net.id)
    assert pid is not None
    hosts = Path(topo.dhcp_state) / topo.host_ns(1) / net.id / "hosts"
    host.detach_port(ADMIN, p1.id)
    text = hosts.read_text()
    assert p1.mac_address not in text and p2.mac_address in text and p3.mac_address in text
    assert responder_pid(topo, net.id) == pid  # told (SIGHUP), not restarted
    assert g2.ask() is not None
    # Someone else (another process of this host) rewrote the file meanwhile:
    # the next detach goes by the database, not by what this process served last.
    hosts.write_text(text + "fa:16:3e:00:00:01,10.20.0.250\n")
    host.detach_port(ADMIN, p2.id)
    text = hosts.read_text()
    assert p3.mac_address in text and p2.mac_address not in text and "10.20.0.250" not in text
    assert g3.ask() is not None
