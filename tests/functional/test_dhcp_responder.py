"""One host's DHCP responder, proven with namespace guests running busybox udhcpc."""

from __future__ import annotations

import os
import signal

import pytest

from naas_lib.drivers.linuxbridge import dhcp, dhcp_config
from naas_lib.drivers.linuxbridge.dhcp_config import NetworkSpec, PortSpec
from tests.functional.dhcp_lab import lab_for, new_id, sh, subnet

MAC1, MAC2, STRANGER = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:99"


pytestmark = pytest.mark.functional


@pytest.fixture
def dhcp_lab(tmp_path):
    yield from lab_for(tmp_path)


def _one_host(lab):
    host_ns, manager = lab.host(1)
    net_id, sub_id = new_id(), new_id()
    bridge = lab.network(host_ns, net_id, mtu=1400)
    sub = subnet(sub_id, "10.20.0.0/24", "10.20.0.2", gateway_ip="10.20.0.1",
                 dns_nameservers=("10.20.0.53",),
                 host_routes=(("172.16.0.0/16", "10.20.0.254"),), lease_time=600)
    port1 = PortSpec(id=new_id(), mac=MAC1, fixed_ips=((sub_id, "10.20.0.11"),))
    spec = NetworkSpec(id=net_id, bridge=bridge, mtu=1400, subnets=(sub,), ports=(port1,))
    return host_ns, manager, bridge, spec, port1


def test_guest_gets_its_ports_address_router_routes_and_mtu(dhcp_lab):
    host_ns, manager, bridge, spec, port1 = _one_host(dhcp_lab)
    assert manager.ensure(spec) == "started"
    guest = dhcp_lab.guest(host_ns, bridge, port1.id, MAC1)
    lease = guest.ask()
    assert lease is not None, guest.events()
    assert lease["ip"] == "10.20.0.11"
    assert lease["mask"] == "24"
    assert lease["router"] == "10.20.0.1"
    assert lease["dns"] == "10.20.0.53"
    assert lease["mtu"] == "1400"
    assert lease["lease"] == "600"
    assert lease["serverid"] == "10.20.0.2"
    # option 121: the host route and the default route (RFC 3442 replaces option 3)
    assert lease["routes"].split() == ["172.16.0.0/16", "10.20.0.254", "0.0.0.0/0", "10.20.0.1"]


def test_a_mac_that_is_not_a_port_gets_no_reply(dhcp_lab):
    host_ns, manager, bridge, spec, _ = _one_host(dhcp_lab)
    manager.ensure(spec)
    stranger = dhcp_lab.guest(host_ns, bridge, new_id(), STRANGER)
    assert stranger.ask(timeout=3) is None
    assert stranger.events() == [] or all(e["event"] != "bound" for e in stranger.events())


def test_changed_fixed_ip_is_given_at_next_renewal_without_restart(dhcp_lab):
    host_ns, manager, bridge, spec, port1 = _one_host(dhcp_lab)
    manager.ensure(spec)
    pid = manager.pid(spec.id)
    guest = dhcp_lab.guest(host_ns, bridge, port1.id, MAC1)
    guest.start()
    guest.wait_event(lambda e: e["event"] == "bound" and e["ip"] == "10.20.0.11")
    # a second port appears and the first port's fixed IP changes
    port2 = PortSpec(id=new_id(), mac=MAC2, fixed_ips=((spec.subnets[0].id, "10.20.0.12"),))
    moved = PortSpec(id=port1.id, mac=MAC1, fixed_ips=((spec.subnets[0].id, "10.20.0.21"),))
    changed = NetworkSpec(id=spec.id, bridge=bridge, mtu=1400, subnets=spec.subnets,
                          ports=(moved, port2))
    assert manager.ensure(changed) == "updated"
    assert manager.ensure(changed) == "unchanged"
    guest.renew()
    event = guest.wait_event(lambda e: e["event"] == "bound" and e["ip"] == "10.20.0.21")
    assert event["router"] == "10.20.0.1"
    assert manager.pid(spec.id) == pid, "the responder was restarted"
    second = dhcp_lab.guest(host_ns, bridge, port2.id, MAC2)
    assert second.ask()["ip"] == "10.20.0.12"


def test_sync_restarts_a_killed_responder_and_removes_stale_ones(dhcp_lab):
    host_ns, manager, bridge, spec, port1 = _one_host(dhcp_lab)
    manager.ensure(spec)
    old = manager.pid(spec.id)
    os.kill(old, signal.SIGKILL)
    guest = dhcp_lab.guest(host_ns, bridge, port1.id, MAC1)
    assert guest.ask(timeout=2) is None
    report = manager.sync([spec])
    assert report.restarted == [spec.id] and not report.removed, report
    assert manager.pid(spec.id) not in (None, old)
    assert guest.ask()["ip"] == "10.20.0.11"
    assert not manager.sync([spec]).changed
    # a network no longer desired is removed by sync
    report = manager.sync([])
    assert report.removed == [spec.id]
    assert manager.running() == {}


def test_remove_leaves_nothing_behind(dhcp_lab):
    host_ns, manager, bridge, spec, _ = _one_host(dhcp_lab)
    manager.ensure(spec)
    pid = manager.pid(spec.id)
    namespace = manager.namespace(spec.id)
    assert dhcp.veth_name(spec.id) in sh("ip", "-n", host_ns, "link").stdout
    assert "naas_dhcp" in sh("ip", "netns", "exec", host_ns, "nft", "list", "tables").stdout
    assert manager.remove(spec.id) is True
    assert not os.path.exists(f"/proc/{pid}") or dhcp._alive(pid) is False
    assert namespace not in sh("ip", "netns", "list").stdout
    assert dhcp.veth_name(spec.id) not in sh("ip", "-n", host_ns, "link").stdout
    assert not (manager.state_dir / spec.id).exists()
    assert "naas_dhcp" not in sh("ip", "netns", "exec", host_ns, "nft", "list", "tables").stdout
    assert manager.remove(spec.id) is False


def test_a_network_without_dhcp_or_ports_runs_no_responder(dhcp_lab):
    host_ns, manager, bridge, spec, port1 = _one_host(dhcp_lab)
    off = dhcp_config.SubnetSpec(**{**spec.subnets[0].__dict__, "enable_dhcp": False})
    assert manager.ensure(NetworkSpec(id=spec.id, bridge=bridge, mtu=1400, subnets=(off,),
                                      ports=(port1,))) == "unchanged"
    assert manager.ensure(spec) == "started"
    assert manager.ensure(NetworkSpec(id=spec.id, bridge=bridge, mtu=1400,
                                      subnets=spec.subnets)) == "removed"
    assert manager.running() == {}


def test_option_change_and_port_deletion_reach_the_running_responder(dhcp_lab):
    host_ns, manager, bridge, spec, port1 = _one_host(dhcp_lab)
    port2 = PortSpec(id=new_id(), mac=MAC2, fixed_ips=((spec.subnets[0].id, "10.20.0.12"),))
    manager.ensure(NetworkSpec(id=spec.id, bridge=bridge, mtu=1400, subnets=spec.subnets,
                               ports=(port1, port2)))
    pid = manager.pid(spec.id)
    guest1 = dhcp_lab.guest(host_ns, bridge, port1.id, MAC1)
    guest2 = dhcp_lab.guest(host_ns, bridge, port2.id, MAC2)
    assert guest2.ask()["ip"] == "10.20.0.12"
    # new DNS servers and gateway on the subnet; port 2 deleted
    sub = dhcp_config.SubnetSpec(**{**spec.subnets[0].__dict__, "gateway_ip": "10.20.0.254",
                                    "dns_nameservers": ("10.20.0.8", "10.20.0.9"),
                                    "host_routes": ()})
    assert manager.ensure(NetworkSpec(id=spec.id, bridge=bridge, mtu=1400, subnets=(sub,),
                                      ports=(port1,))) == "updated"
    lease = guest1.ask()
    assert (lease["router"], lease["dns"]) == ("10.20.0.254", "10.20.0.8 10.20.0.9")
    assert guest2.ask(timeout=3) is None
    assert manager.pid(spec.id) == pid


def test_a_responder_that_cannot_start_leaves_nothing_and_sync_reports_it(dhcp_lab):
    host_ns, manager, bridge, spec, port1 = _one_host(dhcp_lab)
    missing = NetworkSpec(id=spec.id, bridge="brqnosuchbrdg", mtu=1400, subnets=spec.subnets,
                          ports=(port1,))
    with pytest.raises(dhcp.DhcpError):
        manager.ensure(missing)
    assert manager.namespace(spec.id) not in sh("ip", "netns", "list").stdout
    assert dhcp.veth_name(spec.id) not in sh("ip", "-n", host_ns, "link").stdout
    assert not (manager.state_dir / spec.id).exists()
    report = manager.sync([missing])
    assert "does not exist" in report.errors[spec.id] and not report.changed
    assert manager.running() == {}
    assert "naas_dhcp" not in sh("ip", "netns", "exec", host_ns, "nft", "list", "tables").stdout
    assert manager.sync([spec]).started == [spec.id] and manager.pid(spec.id) is not None
