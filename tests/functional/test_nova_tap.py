"""Nova's own plug and unplug on the ``tap`` path stay harmless.

On vif type ``tap`` Nova plugs and unplugs the tap itself (its legacy path):
it may delete the library's tap, or make a bare tap of the same name on no
bridge. Reconciliation puts things right: the tap comes back on its bridge
with the network's MTU. The port, not wired when the round found it so,
reads BUILD (announced, as Nova hears of it) before it reads ACTIVE again,
so a waiter for the port's next ACTIVE sees one.

With the sync loop running, the driver's link watch sees the loss as it
happens: the port reads BUILD at once and a woken round repairs it, without
waiting for the loop's interval. The library's own unplugs flip nothing.
"""

from __future__ import annotations

import threading
import time

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


#: A loop interval no test waits for: only the link watch's wake can repair in time.
SLOW = 60.0


def _poll(check, timeout):
    """True as soon as ``check()`` is, False after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()


@pytest.fixture
def watched(host):
    """The host with its sync loop (and link watch) running, first round done."""
    svc = host[0]
    loop = svc.start_sync(interval=SLOW)
    assert _poll(lambda: loop.rounds >= 1, 10)
    yield (*host, loop)
    svc.stop_sync()


def _status(svc, port):
    return svc.get_port(ADMIN, port.id).status


@pytest.mark.parametrize("loss", [("link", "del", "{}"),
                                  ("link", "set", "dev", "{}", "nomaster")],
                         ids=["deleted", "released"])
def test_a_lost_tap_reads_build_at_once_then_active_when_back(topo, watched, loss):
    svc, net, port, ns, loop = watched
    dev = port.binding_vif_details["devname"]
    seen = statuses_announced(svc, port.id)
    rounds = loop.rounds
    ip("-n", ns, *(word.format(dev) for word in loss))  # Nova's unplug, or off its bridge
    assert _poll(lambda: "BUILD" in seen, 1.0), seen
    assert _poll(lambda: _status(svc, port) == "ACTIVE" and _on_bridge(topo, ns, dev, net), 5)
    assert _poll(lambda: loop.rounds > rounds, 1)  # woken, long before the interval
    assert seen == ["BUILD", "ACTIVE"]
    assert loop.rounds == rounds + 1  # one repair round
    assert "mtu 1400" in ip("-n", ns, "link", "show", dev).stdout


def test_the_librarys_own_unplugs_flip_no_status(topo, watched):
    svc, net, port, ns, loop = watched
    other = svc.create_port(ADMIN, network_id=net.id)
    svc.attach_port(ADMIN, other.id, other.id, instance_id="vm2")
    seen = statuses_announced(svc, port.id)
    seen_other = statuses_announced(svc, other.id)
    rounds = loop.rounds
    svc.update_port(ADMIN, port.id, admin_state_up=False)
    svc.detach_port(ADMIN, port.id)
    svc.detach_port(ADMIN, other.id)  # the network's last port: bridge torn down too
    svc.delete_port(ADMIN, other.id)
    time.sleep(1.0)  # the watch had time to see every deletion
    assert topo.master_of(ns, port.binding_vif_details["devname"]) is None
    assert "BUILD" not in seen and seen_other == []
    assert loop.rounds == rounds  # nothing to repair: the loop was not woken


def test_a_driver_unplug_ahead_of_the_database_flips_no_status(topo, watched):
    """A flow may remove the device before it writes the database: not a loss."""
    svc, net, port, ns, loop = watched
    seen = statuses_announced(svc, port.id)
    rounds = loop.rounds
    svc.driver.unplug(port, net)  # the port still reads ACTIVE, bound here
    time.sleep(1.0)
    assert topo.master_of(ns, port.binding_vif_details["devname"]) is None
    assert seen == [] and loop.rounds == rounds
    assert _status(svc, port) == "ACTIVE"


def _watch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("naas-linkwatch-")]


def test_the_watch_lives_with_the_sync_loop(host):
    """It starts with the loop and ends with stop_sync and with close: no thread is left."""
    svc = host[0]
    before = _watch_threads()
    svc.start_sync(interval=SLOW)
    assert len(_watch_threads()) == len(before) + 1
    svc.stop_sync()
    assert _watch_threads() == before
    svc.start_sync(interval=SLOW)
    svc.close()
    assert _watch_threads() == before
