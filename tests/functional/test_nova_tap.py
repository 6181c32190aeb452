"""Nova's own plug and unplug on the ``tap`` path stay harmless.

On vif type ``tap`` Nova plugs and unplugs the tap itself (its legacy path):
it may delete the library's tap, or make a bare tap of the same name on no
bridge. Reconciliation puts things right: the tap comes back on its bridge
with the network's MTU. The port, not wired when the round found it so,
reads BUILD (announced, as Nova hears of it) before it reads ACTIVE again,
so a waiter for the port's next ACTIVE sees one.
"""

from __future__ import annotations

import pytest

from naas_lib import RequestContext, events
from naas_lib.drivers.linuxbridge import names
from tests.functional.hosts_topology import ip

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])


def statuses_announced(svc, port_id):
    """The statuses the port is announced with from now on (AFTER-update events)."""
    seen: list[str] = []

    def record(_resource, _event, _trigger, payload):
        if payload.resource_id == port_id and payload.latest is not None:
            seen.append(payload.latest.status)

    svc.events.subscribe(record, events.PORT, events.AFTER_UPDATE)
    return seen


@pytest.fixture
def host(topo, tmp_path):
    svc = topo.host(1, f"sqlite:///{tmp_path}/naas.sqlite")
    net = svc.create_network(ADMIN, name="t", network_type="local", mtu=1400)
    port = svc.create_port(ADMIN, network_id=net.id)
    svc.attach_port(ADMIN, port.id, port.id, instance_id="vm1")
    return svc, net, svc.get_port(ADMIN, port.id), topo.host_ns(1)


def _on_bridge(topo, ns, dev, net):
    return topo.master_of(ns, dev) == names.bridge(net.id)


def test_a_tap_nova_deleted_is_recreated_on_its_bridge(topo, host):
    svc, net, port, ns = host
    dev = port.binding_vif_details["devname"]
    assert len(dev) == 14 and _on_bridge(topo, ns, dev, net)
    assert port.status == "ACTIVE"
    seen = statuses_announced(svc, port.id)
    ip("-n", ns, "link", "del", dev)  # Nova's unplug on the tap path
    report = svc.sync()
    assert _on_bridge(topo, ns, dev, net)
    assert "mtu 1400" in ip("-n", ns, "link", "show", dev).stdout
    assert seen == ["BUILD", "ACTIVE"]
    assert report.status_changes == {port.id: "ACTIVE -> BUILD -> ACTIVE"}
    assert svc.get_port(ADMIN, port.id).status == "ACTIVE"
    svc.sync()  # a round that finds the tap in place announces nothing
    assert seen == ["BUILD", "ACTIVE"]


def test_a_bare_tap_nova_made_is_put_on_the_right_bridge(topo, host):
    svc, net, port, ns = host
    dev = port.binding_vif_details["devname"]
    ip("-n", ns, "link", "del", dev)
    ip("-n", ns, "tuntap", "add", "dev", dev, "mode", "tap")  # Nova's plug_tap
    assert not _on_bridge(topo, ns, dev, net)
    seen = statuses_announced(svc, port.id)
    svc.sync()
    assert _on_bridge(topo, ns, dev, net)
    assert seen == ["BUILD", "ACTIVE"]
    assert svc.get_port(ADMIN, port.id).status == "ACTIVE"


def test_a_tap_only_retuned_keeps_its_port_active(topo, host):
    """An MTU put right is no outage: the port stays ACTIVE, nothing is announced."""
    svc, net, port, ns = host
    dev = port.binding_vif_details["devname"]
    ip("-n", ns, "link", "set", dev, "mtu", "1300")
    seen = statuses_announced(svc, port.id)
    report = svc.sync()
    assert "mtu 1400" in ip("-n", ns, "link", "show", dev).stdout
    assert report.status_changes == {} and seen == []
    assert svc.get_port(ADMIN, port.id).status == "ACTIVE"
