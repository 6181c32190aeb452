"""Boot multi-NIC instances through the provisioner with the Linux bridge driver.

Root only: real namespaces, devices and pings. Every namespace and device a
test makes carries a unique tag and is removed in ``finally`` blocks, also
when the test fails.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc
from naas_lib.virt import demo
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.functional.netns import remove_responders

pytestmark = pytest.mark.functional  # root: required by tests/functional/conftest.py

HOST = "fn-boot-host"
CIDRS = ("10.72.1.0/24", "10.72.2.0/24", "fd72:3::/64")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


def _links() -> dict[str, dict]:
    return {link["ifname"]: link for link in json.loads(_ip("-j", "link", "show").stdout)}


def _ours(ids: set[str]) -> list[str]:
    """Host devices whose name carries the start of one of ``ids`` (ports, networks)."""
    prefixes = tuple(i[:11] for i in ids)
    return [n for n in _links() if prefixes and n[3:14].startswith(prefixes)]


@pytest.fixture
def svc(tmp_path):
    """The host's service; its DHCP responders' files in the test's own directory."""
    state = tmp_path / "dhcp"
    s = NetworkService.from_settings(database_url=f"sqlite:///{tmp_path / 'naas.sqlite'}",
                                     driver="linuxbridge", host=HOST,
                                     tenant_network_types=["local"],
                                     linuxbridge={"dhcp_state_path": str(state)})
    yield s
    s.close()
    remove_responders(state, [HOST])


@pytest.fixture
def namespaces():
    """Make uniquely named namespaces on demand; all deleted afterwards."""
    tag = uuid.uuid4().hex[:6]
    made: list[str] = []

    def make(name: str) -> str:
        ns = f"nfb-{tag}-{name}"
        _ip("netns", "add", ns)
        made.append(ns)
        demo.prepare_guest(ns)
        return ns

    yield make
    for ns in made:
        _ip("netns", "delete", ns, check=False)


@pytest.fixture
def cleanup(svc):
    """Deallocate whatever instances a test booted, even when it failed."""
    booted: list[dict] = []
    yield booted
    prov = Provisioner(svc)
    ctx = RequestContext(is_admin=True, roles=["admin"])
    for inst in booted:
        prov.deallocate_for_instance(ctx, inst)


def test_instances_with_nics_on_three_networks_carry_traffic_and_leave_nothing(
        svc, namespaces, cleanup):
    ctx = RequestContext(project_id="fn", user_id="u")
    nets = []
    for i, cidr in enumerate(CIDRS):
        net = svc.create_network(ctx, name=f"n{i}")
        svc.create_subnet(ctx, network_id=net.id, cidr=cidr, gateway_ip=None,
                          ip_version=6 if ":" in cidr else 4)
        nets.append(net)
    prov = Provisioner(svc)
    guests = {}
    for vm in ("a", "b"):
        ns = namespaces(vm)
        inst = {"uuid": str(uuid.uuid4()), "name": vm, "project_id": "fn"}
        cleanup.append(inst)
        info = prov.allocate_for_instance(ctx, inst, [
            NicRequest(network_id=n.id, binding_profile={"netns": ns, "ifname": f"eth{i}",
                                                         "configure_ip": True})
            for i, n in enumerate(nets)], HOST)
        prov.wait_for_active(ctx, [v["id"] for v in info], timeout=5)
        guests[vm] = (ns, inst, info)
    port_ids = {v["id"] for _, _, info in guests.values() for v in info}
    assert len(_ours(port_ids)) == 6  # a host-side veth per NIC
    ns_a, _, info_a = guests["a"]
    _, _, info_b = guests["b"]
    for i, (va, vb) in enumerate(zip(info_a, info_b, strict=True)):
        target = vb["network"]["subnets"][0]["ips"][0]["address"]
        if ":" in target:  # wait for IPv6 duplicate address detection to finish
            _ip("netns", "exec", guests["b"][0], "sysctl", "-q", "-w",
                f"net.ipv6.conf.eth{i}.accept_dad=0", check=False)
            for _ in range(30):
                if demo.ping(ns_a, f"eth{i}", target, vb["address"]):
                    break
        assert demo.ping(ns_a, f"eth{i}", target, vb["address"]), f"NIC {i} carries no traffic"
        assert va["network"]["id"] == vb["network"]["id"] == nets[i].id
    # A NIC does not reach another network's NIC of the other instance.
    other = info_b[1]["network"]["subnets"][0]["ips"][0]["address"]
    assert not demo.ping(ns_a, "eth0", other, info_b[1]["address"])

    for _, inst, _ in guests.values():
        assert len(prov.deallocate_for_instance(ctx, inst)) == 3
    cleanup.clear()
    assert svc.list_ports(ctx) == []
    assert _ours(port_ids | {n.id for n in nets}) == []  # no veths, no bridges
    for ns, _, _ in guests.values():
        assert _ip("-n", ns, "-j", "link", "show").stdout.count("eth") == 0


def test_tap_nics_exist_with_mtu_on_the_bridge_and_a_plug_failure_undoes_the_boot(svc, cleanup):
    ctx = RequestContext(project_id="fn", user_id="u")
    a = svc.create_network(ctx, name="a", mtu=1400)
    svc.create_subnet(ctx, network_id=a.id, cidr="10.73.1.0/24")
    b = svc.create_network(ctx, name="b")
    svc.create_subnet(ctx, network_id=b.id, cidr="10.73.2.0/24")
    prov = Provisioner(svc)
    inst = {"uuid": str(uuid.uuid4()), "name": "t", "project_id": "fn"}
    cleanup.append(inst)
    info = prov.allocate_for_instance(ctx, inst, [NicRequest(network_id=a.id),
                                                  NicRequest(network_id=b.id)], HOST)
    links = _links()
    for vif in info:
        tap = links[vif["devname"]]
        assert tap["mtu"] == vif["details"]["mtu"]
        assert links[tap["master"]]["ifname"].startswith("brq")
    assert links[info[0]["devname"]]["mtu"] == 1400
    # A second instance: its first NIC's tap is made, its second NIC names a
    # namespace that does not exist, so the driver fails to plug it.
    inst2 = {"uuid": str(uuid.uuid4()), "name": "t2", "project_id": "fn"}
    before, ports_before = set(_links()), {p.id for p in svc.list_ports(ctx)}
    missing = f"nfb-missing-{uuid.uuid4().hex[:6]}"
    with pytest.raises(exc.NicAllocationFailed) as e:
        prov.allocate_for_instance(ctx, inst2, [
            NicRequest(network_id=a.id),
            NicRequest(network_id=a.id, binding_profile={"netns": missing})], HOST)
    assert e.value.index == 1 and isinstance(e.value.__cause__, exc.DriverError)
    assert set(_links()) == before  # the first NIC's tap was removed again
    assert {p.id for p in svc.list_ports(ctx)} == ports_before
    prov.deallocate_for_instance(ctx, inst)
    cleanup.clear()
    assert _ours({v["id"] for v in info} | {a.id, b.id}) == []
