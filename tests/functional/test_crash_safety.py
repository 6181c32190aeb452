"""Crash safety: SIGKILL between commit and plug, and part-way through a plug.

A child process attaches a port on a simulated host (a namespace) and is
killed at a fault-injection point (``NAAS_FAULT_INJECT``, see
``tests/fault_injection.py``). The host's service is then started again and one
``sync`` round must leave every port ACTIVE (none stuck in BUILD), exactly
the devices the database wants (nothing leaked, nothing half-made), and
guests that talk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from naas_lib import NetworkService, RequestContext, constants
from naas_lib.drivers.linuxbridge import names
from tests.functional.hosts_topology import Topology, ping

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_child(url: str, netns: str, port_id: str, fault: str | None,
              dhcp_state: str) -> int:
    env = dict(os.environ)
    env.pop("NAAS_FAULT_INJECT", None)
    if fault:
        env["NAAS_FAULT_INJECT"] = fault
    proc = subprocess.run([sys.executable, "-m", "tests.functional.crash_child", url, "h1",
                           netns, port_id, dhcp_state], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    return proc.returncode


def owned(topo: Topology, netns: str) -> set[str]:
    return {n for n in topo.links(netns) if names.is_owned(n)}


def test_kill_after_commit_and_mid_plug_then_sync_repairs(topo, tmp_path):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    api = NetworkService.from_settings(database_url=url)
    topo.services.append(api)
    host_ns = topo.netns("h1")
    state = topo.dhcp_state  # the children's and h1's DHCP responders' files
    net = api.create_network(ADMIN, name="crash", network_type="local")
    api.create_subnet(ADMIN, network_id=net.id, cidr="10.9.0.0/24")
    ports, guests = [], []
    for role in ("g1", "g2", "g3"):
        ns = topo.guest(role)
        guests.append(ns)
        ports.append(api.create_port(ADMIN, network_id=net.id, name=role, binding_profile={
            "netns": ns, "ifname": "eth0", "configure_ip": True}))
    p1, p2, p3 = ports

    # p3 is plugged, then deleted by a process that cannot unplug (no host): a leak.
    assert run_child(url, host_ns, p3.id, None, state) == 0
    assert names.veth_host(p3.id) in owned(topo, host_ns)
    api.detach_port(ADMIN, p3.id)
    api.delete_port(ADMIN, p3.id)

    # Killed after the commit, before the plug: bound and BUILD, nothing made for it.
    assert run_child(url, host_ns, p1.id, "after_commit_before_plug", state) == -signal.SIGKILL
    crashed = api.get_port(ADMIN, p1.id)
    assert (crashed.binding_host_id, crashed.status) == ("h1", constants.PORT_STATUS_BUILD)
    assert names.veth_host(p1.id) not in owned(topo, host_ns)

    # Killed part-way through the plug: the veth exists but is not on the bridge.
    assert run_child(url, host_ns, p2.id, "mid_plug", state) == -signal.SIGKILL
    assert api.get_port(ADMIN, p2.id).status == constants.PORT_STATUS_BUILD
    half = topo.links(host_ns)
    assert names.veth_host(p2.id) in half
    master = topo.master_of(host_ns, names.veth_host(p2.id))
    assert master != names.bridge(net.id)

    # The host's service starts again; one sync round repairs everything.
    h1 = NetworkService.from_settings(database_url=url, driver="linuxbridge", host="h1",
                                      linuxbridge={"netns": host_ns,
                                                   "dhcp_state_path": topo.dhcp_state})
    topo.services.append(h1)
    report = h1.sync()
    assert report.changed
    statuses = {p.id: p.status for p in api.list_ports(ADMIN, network_id=net.id)}
    assert statuses == {p1.id: constants.PORT_STATUS_ACTIVE, p2.id: constants.PORT_STATUS_ACTIVE}
    assert owned(topo, host_ns) == {names.bridge(net.id), names.veth_host(p1.id),
                                    names.veth_host(p2.id)}
    assert topo.master_of(host_ns, names.veth_host(p2.id)) == names.bridge(net.id)
    assert ping(guests[0], api.get_port(ADMIN, p2.id).fixed_ips[0].ip_address)
    again = h1.sync()
    assert not again.changed, again
