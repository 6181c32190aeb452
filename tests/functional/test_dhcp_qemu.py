"""A real QEMU guest with two NICs on two networks gets both addresses by DHCP."""

from __future__ import annotations

import pytest

from naas_lib.drivers.linuxbridge import names
from naas_lib.drivers.linuxbridge.dhcp_config import NetworkSpec, PortSpec
from tests.functional.dhcp_lab import lab_for, new_id, sh, subnet
from tests.guests import qemu

pytestmark = pytest.mark.functional


@pytest.fixture
def dhcp_lab(tmp_path):
    yield from lab_for(tmp_path)


@pytest.fixture
def guests(tmp_path):
    with qemu.guest_pool(tmp_path / "qemu") as pool:
        yield pool


def test_qemu_guest_gets_both_nics_by_dhcp_and_answers_ping(dhcp_lab, guests):
    host, manager = dhcp_lab.host(1)
    nets = []
    for index, (mtu, cidr) in enumerate(((1450, "10.41.0.0/24"), (1400, "10.42.0.0/24"))):
        net_id, sub_id = new_id(), new_id()
        bridge = dhcp_lab.network(host, net_id, mtu=mtu)
        prefix = cidr.rsplit(".", 2)[0]
        sub = subnet(sub_id, cidr, f"{prefix}.0.2", gateway_ip=f"{prefix}.0.1",
                     host_routes=((f"172.{20 + index}.0.0/16", f"{prefix}.0.254"),))
        vm_port = PortSpec(id=new_id(), mac=f"fa:16:3e:10:0{index}:01",
                           fixed_ips=((sub_id, f"{prefix}.0.31"),))
        ns_port = PortSpec(id=new_id(), mac=f"fa:16:3e:10:0{index}:02",
                           fixed_ips=((sub_id, f"{prefix}.0.32"),))
        assert manager.ensure(NetworkSpec(id=net_id, bridge=bridge, mtu=mtu, subnets=(sub,),
                                          ports=(vm_port, ns_port))) == "started"
        qemu.make_tap(host, names.tap(vm_port.id), bridge, mtu)
        neighbour = dhcp_lab.guest(host, bridge, ns_port.id, ns_port.mac, mtu=mtu)
        nets.append((mtu, prefix, vm_port, neighbour))

    vm = guests.start("vm", host, [qemu.Nic(names.tap(p.id), p.mac) for _, _, p, _ in nets])
    vm.wait_for(r"NAAS-READY nics=eth0,eth1", timeout=60)
    for index, (mtu, prefix, port, neighbour) in enumerate(nets):
        lease = vm.wait_lease(f"eth{index}", timeout=30)
        assert lease["ip"] == port.fixed_ips[0][1]
        assert lease["mask"] == "24"
        assert lease["router"] == f"{prefix}.0.1"
        assert lease["mtu"] == str(mtu)
        assert lease["routes"] == f"172.{20 + index}.0.0/16,{prefix}.0.254,0.0.0.0/0,{prefix}.0.1"
        assert neighbour.ask()["ip"] == f"{prefix}.0.32"
        assert sh("ip", "netns", "exec", neighbour.netns, "ping", "-c1", "-W3",
                  port.fixed_ips[0][1], check=False).returncode == 0


def test_guest_live_migrated_between_hosts_keeps_its_address(dhcp_lab, guests):
    """The fixture's incoming path: a port bound on both hosts is served on both."""
    h1, manager1 = dhcp_lab.host(1)
    h2, manager2 = dhcp_lab.host(2)
    net_id, sub_id = new_id(), new_id()
    bridges = {h1: dhcp_lab.network(h1, net_id, vni=4343, peers=(2,)),
               h2: dhcp_lab.network(h2, net_id, vni=4343, peers=(1,))}
    sub = subnet(sub_id, "10.43.0.0/24", "10.43.0.2", gateway_ip="10.43.0.1")
    vm_port = PortSpec(id=new_id(), mac="fa:16:3e:43:00:01", fixed_ips=((sub_id, "10.43.0.31"),))
    ns_port = PortSpec(id=new_id(), mac="fa:16:3e:43:00:02", fixed_ips=((sub_id, "10.43.0.32"),))
    tap = names.tap(vm_port.id)
    manager1.ensure(NetworkSpec(id=net_id, bridge=bridges[h1], mtu=1450, subnets=(sub,),
                                ports=(vm_port, ns_port)))
    manager2.ensure(NetworkSpec(id=net_id, bridge=bridges[h2], mtu=1450, subnets=(sub,),
                                ports=(vm_port,)))
    for host in (h1, h2):
        qemu.make_tap(host, tap, bridges[host], 1450)
    neighbour = dhcp_lab.guest(h1, bridges[h1], ns_port.id, ns_port.mac, mtu=1450)
    assert neighbour.ask()["ip"] == "10.43.0.32"

    source = guests.start("src", h1, [qemu.Nic(tap, vm_port.mac)])
    assert source.wait_lease("eth0")["ip"] == "10.43.0.31"
    destination = guests.start("dst", h2, [qemu.Nic(tap, vm_port.mac)],
                               incoming=f"unix:{guests.workdir / 'migrate.sock'}")
    source.migrate_to(destination)
    source.stop()
    assert destination.qmp("query-status")["status"] == "running"
    # now reached across VXLAN on host 2
    assert sh("ip", "netns", "exec", neighbour.netns, "ping", "-c1", "-W3", "-w", "10",
              "10.43.0.31", check=False).returncode == 0
