"""Two hosts sharing a VXLAN network: each host's responder answers only its own guests."""

from __future__ import annotations

import os
import signal
import time

import pytest

from naas_lib.drivers.linuxbridge.dhcp_config import NetworkSpec, PortSpec
from tests.functional.dhcp_lab import lab_for, new_id, sh, subnet

pytestmark = pytest.mark.functional


@pytest.fixture
def dhcp_lab(tmp_path):
    yield from lab_for(tmp_path)


def _renewed(guest, since: int, timeout: float = 4) -> bool:
    """Whether the guest's udhcpc recorded a renewal after its ``since``-th event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["event"] in ("renew", "bound") for e in guest.events()[since:]):
            return True
        time.sleep(0.1)
    return False


def test_each_hosts_responder_serves_only_its_own_guests(dhcp_lab):
    h1, manager1 = dhcp_lab.host(1)
    h2, manager2 = dhcp_lab.host(2)
    net_id, sub_id = new_id(), new_id()
    bridge1 = dhcp_lab.network(h1, net_id, vni=4242, peers=(2,))
    bridge2 = dhcp_lab.network(h2, net_id, vni=4242, peers=(1,))
    sub = subnet(sub_id, "10.30.0.0/24", "10.30.0.2", gateway_ip="10.30.0.1")
    port1 = PortSpec(id=new_id(), mac="fa:16:3e:00:01:01", fixed_ips=((sub_id, "10.30.0.11"),))
    port2 = PortSpec(id=new_id(), mac="fa:16:3e:00:02:02", fixed_ips=((sub_id, "10.30.0.12"),))

    def spec(bridge, *ports):
        return NetworkSpec(id=net_id, bridge=bridge, mtu=1450, subnets=(sub,), ports=ports)

    manager1.ensure(spec(bridge1, port1))
    manager2.ensure(spec(bridge2, port2))
    guest1 = dhcp_lab.guest(h1, bridge1, port1.id, port1.mac, mtu=1450)
    guest2 = dhcp_lab.guest(h2, bridge2, port2.id, port2.mac, mtu=1450)
    guest1.start()
    guest2.start()
    guest1.wait_event(lambda e: e["event"] == "bound" and e["ip"] == "10.30.0.11")
    guest2.wait_event(lambda e: e["event"] == "bound" and e["ip"] == "10.30.0.12")
    # the network itself spans both hosts
    assert sh("ip", "netns", "exec", guest1.netns, "ping", "-c1", "-W2",
              "10.30.0.12", check=False).returncode == 0

    # host 2's responder dies: its guest's renewal fails, host 1's guest still renews
    os.kill(manager2.pid(net_id), signal.SIGKILL)
    seen1, seen2 = len(guest1.events()), len(guest2.events())
    guest1.renew()
    guest2.renew()
    assert _renewed(guest1, seen1)
    assert not _renewed(guest2, seen2)

    # even when host 1 also serves port 2 (an inactive binding during a live
    # migration), its replies stay on host 1: the nftables table keeps them off VXLAN
    manager1.ensure(spec(bridge1, port1, port2))
    seen2 = len(guest2.events())
    guest2.renew()
    assert not _renewed(guest2, seen2)

    # sync restarts host 2's responder and the guest renews again
    assert manager2.sync([spec(bridge2, port2)]).restarted == [net_id]
    seen2 = len(guest2.events())
    guest2.renew()
    assert _renewed(guest2, seen2, timeout=8)
