"""Nova's own plug and unplug on the ``tap`` path stay harmless.

On vif type ``tap`` Nova plugs and unplugs the tap itself (its legacy path):
it may delete the library's tap, or make a bare tap of the same name on no
bridge. Reconciliation puts things right: the tap comes back on its bridge
with the network's MTU and the port reads ACTIVE again.
"""

from __future__ import annotations

import pytest

from naas_lib import RequestContext
from naas_lib.drivers.linuxbridge import names
from tests.functional.hosts_topology import ip

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])


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
    ip("-n", ns, "link", "del", dev)  # Nova's unplug on the tap path
    svc.sync()
    assert _on_bridge(topo, ns, dev, net)
    assert "mtu 1400" in ip("-n", ns, "link", "show", dev).stdout
    assert svc.get_port(ADMIN, port.id).status == "ACTIVE"


def test_a_bare_tap_nova_made_is_put_on_the_right_bridge(topo, host):
    svc, net, port, ns = host
    dev = port.binding_vif_details["devname"]
    ip("-n", ns, "link", "del", dev)
    ip("-n", ns, "tuntap", "add", "dev", dev, "mode", "tap")  # Nova's plug_tap
    assert not _on_bridge(topo, ns, dev, net)
    svc.sync()
    assert _on_bridge(topo, ns, dev, net)
    assert svc.get_port(ADMIN, port.id).status == "ACTIVE"
