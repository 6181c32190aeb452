"""Cost of the per-host DHCP responder: updates, and time until a guest holds its address.

(a) A port change on a network with 1, 100 and 1,000 ports: ``DhcpManager.ensure``
    (render, rewrite the hosts file, SIGHUP, device checks) and the rendering and
    file write alone, median of ROUNDS; then the time until a namespace guest
    asking for the changed port holds its new address (dnsmasq re-read included).
    Growth from 100 to 1,000 ports must stay at most linear (10x); the floor is
    the 1-port case.
(b) From ``ensure`` on a new network to a namespace guest holding its address
    (udhcpc asking right after), and to a QEMU guest (booted before, its udhcpc
    retrying every second) holding it; plus a QEMU guest's boot to lease.
(c) Through the library, as Nova boots: from ``Provisioner.allocate_for_instance``
    returning (port created, bound, plugged; the host's responder started or
    updated by the plug) to a namespace guest on the port holding its address,
    and to a QEMU guest started on the port's tap (so its boot included) holding it.

Everything lives in throw-away namespaces removed at the end. Needs root,
dnsmasq, busybox and QEMU (tools/install-system-packages.sh).

    sudo .venv/bin/python -m benchmarks.bench_dhcp [updates] [first] [alloc]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._util import report
from naas_lib.drivers.linuxbridge import dhcp_config as config
from naas_lib.drivers.linuxbridge import names
from tests.functional.dhcp_lab import DhcpLab, new_id, subnet
from tests.guests import qemu

ROUNDS = 5
SIZES = (1, 100, 1000)


def _ports(sub_id: str, count: int, first_ip: int = 10,
           base: str = "10.50") -> list[config.PortSpec]:
    ports = []
    for i in range(count):
        address = f"{base}.{(first_ip + i) // 250}.{(first_ip + i) % 250 + 2}"
        ports.append(config.PortSpec(id=new_id(), mac=f"fa:16:3e:01:{i // 256:02x}:{i % 256:02x}",
                                     fixed_ips=((sub_id, address),)))
    return ports


def bench_updates(lab: DhcpLab) -> None:
    host, manager = lab.host(1)
    per_size: dict[int, float] = {}
    for size in SIZES:
        net_id, sub_id = new_id(), new_id()
        bridge = lab.network(host, net_id)
        sub = subnet(sub_id, "10.50.0.0/16", "10.50.0.1")
        ports = _ports(sub_id, size)
        spec = config.NetworkSpec(id=net_id, bridge=bridge, mtu=1450, subnets=(sub,),
                                  ports=tuple(ports))
        manager.ensure(spec)
        pid = manager.pid(net_id)
        guest = lab.guest(host, bridge, ports[0].id, ports[0].mac)
        full, render, effect = [], [], []
        for round_ in range(ROUNDS):
            moved = config.PortSpec(id=ports[0].id, mac=ports[0].mac,
                                    fixed_ips=((sub_id, f"10.50.200.{round_ + 10}"),))
            changed = config.NetworkSpec(id=net_id, bridge=bridge, mtu=1450, subnets=(sub,),
                                         ports=(moved, *ports[1:]))
            start = time.perf_counter()
            (Path(tempfile.gettempdir()) / "bench-dhcp-hosts").write_text(
                config.hosts_file(changed) + config.opts_file(changed))
            render.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert manager.ensure(changed) == "updated"
            full.append(time.perf_counter() - start)
            lease = guest.ask()
            effect.append(time.perf_counter() - start)
            assert lease and lease["ip"] == f"10.50.200.{round_ + 10}", lease
        assert manager.pid(net_id) == pid
        per_size[size] = statistics.median(full)
        floor = per_size[SIZES[0]]
        report(f"ensure() after a port change, {size} ports", per_size[size] * 1e6,
               floor * 1e6)
        report(f"  render + write hosts/opts alone, {size} ports",
               statistics.median(render) * 1e6)
        report(f"  ensure() to guest holding new address, {size} ports",
               statistics.median(effect) * 1e6)
        manager.remove(net_id)
    growth = per_size[1000] / per_size[100]
    print(f"growth 100 -> 1,000 ports: {growth:.2f}x (linear would be 10x: "
          f"{'met' if growth <= 10 else 'MISSED'})", flush=True)


def bench_first_lease(lab: DhcpLab) -> None:
    host, manager = lab.host(2)
    samples_ns, samples_vm, boots = [], [], []
    pool = qemu.GuestPool(lab.tmp / "qemu")
    try:
        for round_ in range(3):
            net_id, sub_id = new_id(), new_id()
            bridge = lab.network(host, net_id)
            sub = subnet(sub_id, "10.60.0.0/24", "10.60.0.2", gateway_ip="10.60.0.1")
            ns_port, vm_port = _ports(sub_id, 2, first_ip=20, base="10.60")
            spec = config.NetworkSpec(id=net_id, bridge=bridge, mtu=1450, subnets=(sub,),
                                      ports=(ns_port, vm_port))
            tap = names.tap(vm_port.id)
            qemu.make_tap(host, tap, bridge, 1450)
            guest = lab.guest(host, bridge, ns_port.id, ns_port.mac)
            vm = pool.start(f"vm{round_}", host, [qemu.Nic(tap, vm_port.mac)])
            vm.wait_for("NAAS-READY", timeout=60)
            start = time.perf_counter()
            manager.ensure(spec)
            assert guest.ask()["ip"] == ns_port.fixed_ips[0][1]
            samples_ns.append(time.perf_counter() - start)
            lease = vm.wait_lease("eth0", timeout=60)
            samples_vm.append(time.perf_counter() - start)
            assert lease["ip"] == vm_port.fixed_ips[0][1]
            vm.stop()
            # boot to lease with the responder already running
            start = time.perf_counter()
            vm2 = pool.start(f"vm{round_}b", host, [qemu.Nic(tap, vm_port.mac)])
            vm2.wait_lease("eth0", timeout=60)
            boots.append(time.perf_counter() - start)
            vm2.stop()
            manager.remove(net_id)
    finally:
        pool.stop_all()
    report("ensure() to namespace guest holding address", statistics.median(samples_ns) * 1e6)
    report("ensure() to QEMU guest holding address", statistics.median(samples_vm) * 1e6)
    report("QEMU guest start to lease (responder running)", statistics.median(boots) * 1e6)


def bench_allocate_to_lease(lab: DhcpLab) -> None:
    from naas_lib import RequestContext
    from naas_lib.virt.provisioner import NicRequest, Provisioner
    from tests.functional.dhcp_lab import Guest
    from tests.functional.hosts_topology import Topology

    admin = RequestContext(project_id="admin", user_id="bench", roles=["admin"])
    topo = Topology()
    pool = qemu.GuestPool(lab.tmp / "qemu-alloc")
    samples_ns, samples_vm = [], []
    try:
        svc = topo.host(1, f"sqlite:///{lab.tmp}/alloc.sqlite", linuxbridge={"dhcp": True})
        prov = Provisioner(svc)
        for round_ in range(3):
            net = svc.create_network(admin, name=f"b{round_}", network_type="vxlan")
            svc.create_subnet(admin, network_id=net.id, cidr="10.70.0.0/24")
            ns = topo.guest(f"bg{round_}")
            inst = {"uuid": f"bench-ns-{round_}", "name": "ns", "project_id": "admin"}
            (vif,) = prov.allocate_for_instance(admin, inst, [NicRequest(
                network_id=net.id, binding_profile={"netns": ns, "ifname": "eth0"})], "h1")
            start = time.perf_counter()
            lease = Guest(lab, ns, vif["address"]).ask()
            samples_ns.append(time.perf_counter() - start)
            assert lease["ip"] == vif["network"]["subnets"][0]["ips"][0]["address"]
            inst_vm = {"uuid": f"bench-vm-{round_}", "name": "vm", "project_id": "admin"}
            (vif,) = prov.allocate_for_instance(admin, inst_vm, [NicRequest(network_id=net.id)],
                                                "h1")
            start = time.perf_counter()
            vm = pool.start(f"avm{round_}", topo.host_ns(1), [qemu.Nic(vif["devname"],
                                                                      vif["address"])])
            lease = vm.wait_lease("eth0", timeout=90)
            samples_vm.append(time.perf_counter() - start)
            assert lease["ip"] == vif["network"]["subnets"][0]["ips"][0]["address"]
            vm.stop()
            prov.deallocate_for_instance(admin, inst)
            prov.deallocate_for_instance(admin, inst_vm)
            svc.delete_network(admin, net.id)
    finally:
        pool.stop_all()
        topo.cleanup()
    report("allocate_for_instance to namespace guest lease", statistics.median(samples_ns) * 1e6)
    report("allocate_for_instance to QEMU guest lease (boot)",
           statistics.median(samples_vm) * 1e6)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-dhcp-") as tmp:
        lab = DhcpLab(Path(tmp))
        only = set(sys.argv[1:])  # e.g. "alloc": section (c) alone
        try:
            if not only or "updates" in only:
                bench_updates(lab)
            if not only or "first" in only:
                bench_first_lease(lab)
            if not only or "alloc" in only:
                bench_allocate_to_lease(lab)
        finally:
            lab.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
