"""Hosts registry, binding for other hosts, desired state and the sync loop.

Several services share one SQLite file, each playing a host (or the API
server, with no host). Drivers are the noop driver and the shared fake
(:mod:`tests.support.fake_driver`), which refuses VLAN, limits the MTU and
reports ports as failed on demand.
"""

from __future__ import annotations

import datetime
import threading

import pytest
import sqlalchemy as sa

from naas_lib import constants
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.drivers import base
from naas_lib.drivers.noop import NoopDriver
from naas_lib.resources import binding as hosts_mod
from tests.support.fake_driver import FakeDriver


@pytest.fixture
def db_file(tmp_path):
    return f"sqlite:///{tmp_path}/naas.sqlite"


@pytest.fixture
def host_service(make_service, db_file):
    """A service for host ``name`` on the shared file, with the fake driver by default."""

    def make(name=None, driver_cls=FakeDriver, **options):
        if driver_cls is FakeDriver:
            options.setdefault("fake", {})
        return make_service(database_url=db_file, host=name, driver=driver_cls.name,
                            driver_cls=driver_cls, **options)

    return make


REAL_LOAD = hosts_mod.driver_manager.load_driver_class


@pytest.fixture(autouse=True)
def fake_entry_point(monkeypatch):
    """Let remote binding find the fake driver class by its recorded name."""

    def load(name):
        return FakeDriver if name == FakeDriver.name else REAL_LOAD(name)

    monkeypatch.setattr(hosts_mod.driver_manager, "load_driver_class", load)


def age_heartbeat(service, host, seconds):
    with service.db.writer() as session:
        session.execute(sa.update(models.Host).where(models.Host.name == host).values(
            heartbeat_at=models.utcnow() - datetime.timedelta(seconds=seconds)))


def bound_port(api, ctx, net, host, **attrs):
    port = api.create_port(ctx, network_id=net.id, **attrs)
    api.attach_port(ctx, port.id, f"vif-{port.id}", instance_id="vm", host=host)
    return api.get_port(ctx, port.id)


# -- registry ---------------------------------------------------------------------


def test_host_records_itself_at_start(host_service, admin_ctx):
    svc = host_service("h1", fake={"endpoint": "192.0.2.1", "max_mtu": 1600})
    [h] = svc.list_hosts(admin_ctx)
    assert (h.name, h.vxlan_endpoint, h.driver, h.alive) == ("h1", "192.0.2.1", "fake", True)
    assert h.capabilities["max_mtu"] == 1600
    assert list(h.capabilities["network_types"]) == ["flat", "local", "vxlan"]
    assert list(h.capabilities["physical_networks"]) == ["physnet1"]
    assert "vlan" in h.capabilities["refusals"]
    assert h.to_dict()["alive"] is True


def test_service_without_host_records_nothing(host_service, admin_ctx):
    api = host_service(None, driver_cls=NoopDriver)
    assert api.list_hosts(admin_ctx) == []


def test_list_hosts_is_for_admins(host_service, ctx):
    svc = host_service("h1")
    with pytest.raises(exc.NotAuthorized):
        svc.list_hosts(ctx)
    with pytest.raises(exc.NotAuthorized):
        svc.get_host(ctx, "h1")


def test_restart_updates_the_record_instead_of_duplicating(host_service, admin_ctx):
    host_service("h1", fake={"endpoint": "192.0.2.1"})
    host_service("h1", fake={"endpoint": "192.0.2.9"})
    [h] = host_service(None, driver_cls=NoopDriver).list_hosts(admin_ctx)
    assert h.vxlan_endpoint == "192.0.2.9"


def test_concurrent_registration_of_one_host_leaves_one_row(host_service, admin_ctx):
    services = [host_service("h1", fake={"endpoint": f"192.0.2.{i}"}) for i in (1, 2, 3)]
    with services[0].db.writer() as session:
        session.execute(sa.delete(models.Host))
    errors = []
    barrier = threading.Barrier(len(services) * 3)

    def register(svc):
        try:
            barrier.wait()
            svc.register_host()
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=register, args=(s,)) for s in services * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [h] = services[0].list_hosts(admin_ctx)
    assert h.vxlan_endpoint in {"192.0.2.1", "192.0.2.2", "192.0.2.3"}


def test_heartbeat_keeps_a_host_alive_and_age_kills_it(host_service, admin_ctx):
    svc = host_service("h1", host_down_time=30)
    age_heartbeat(svc, "h1", 31)
    assert svc.get_host(admin_ctx, "h1").alive is False
    assert svc.list_hosts(admin_ctx, alive=True) == []
    svc.heartbeat()
    assert svc.get_host(admin_ctx, "h1").alive is True
    with pytest.raises(exc.HostNotFound):
        svc.get_host(admin_ctx, "nowhere")


def test_heartbeat_re_registers_a_removed_host(host_service, admin_ctx):
    svc = host_service("h1", fake={"endpoint": "192.0.2.1"})
    with svc.db.writer() as session:
        session.execute(sa.delete(models.Host))
    svc.heartbeat()
    assert svc.get_host(admin_ctx, "h1").vxlan_endpoint == "192.0.2.1"


# -- binding for another host ---------------------------------------------------------


def test_api_binds_with_the_recorded_driver_of_the_host(host_service, ctx):
    host_service("h2", fake={"endpoint": "192.0.2.2"})
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    port = bound_port(api, ctx, net, "h2")
    assert port.binding_vif_details["bound_by"] == "fake"
    assert port.binding_vif_details["host"] == "h2"
    assert port.status == constants.PORT_STATUS_BUILD


def test_unknown_host_binds_with_the_own_driver(host_service, ctx):
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    port = bound_port(api, ctx, net, "never-registered")
    assert port.binding_vif_type == constants.VIF_TYPE_TAP
    assert "bound_by" not in port.binding_vif_details


def test_binding_refused_when_host_has_no_vxlan_endpoint(host_service, ctx):
    host_service("h2")  # no endpoint
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    assert net.network_type == constants.TYPE_VXLAN
    port = api.create_port(ctx, network_id=net.id)
    with pytest.raises(exc.BindingFailed) as err:
        api.attach_port(ctx, port.id, "vif-1", host="h2")
    assert "[fake] endpoint" in err.value.message
    after = api.get_port(ctx, port.id)
    assert after.status == constants.PORT_STATUS_ERROR
    assert "[fake] endpoint" in after.status_reason
    assert after.binding_host_id is None


def test_binding_refused_for_vlan_and_too_big_mtu(host_service, admin_ctx):
    host_service("h2", fake={"endpoint": "192.0.2.2", "max_mtu": 1400},
                 network_vlan_ranges=["physnet1:10:20"])
    api = host_service(None, driver_cls=NoopDriver, network_vlan_ranges=["physnet1:10:20"],
                       flat_networks=["*"])
    vlan = api.create_network(admin_ctx, network_type="vlan", physical_network="physnet1")
    big = api.create_network(admin_ctx, network_type="vxlan")  # MTU 1450 > 1400
    unmapped = api.create_network(admin_ctx, network_type="flat", physical_network="other",
                                  mtu=1400)
    for net, words in ((vlan, "vlan"), (big, "MTU 1450"), (unmapped, "physical network other")):
        port = api.create_port(admin_ctx, network_id=net.id)
        with pytest.raises(exc.BindingFailed, match=words):
            api.update_port(admin_ctx, port.id, binding_host_id="h2")
        failed = api.get_port(admin_ctx, port.id)
        assert failed.status == constants.PORT_STATUS_ERROR and words in failed.status_reason


def test_binding_to_a_host_with_an_uninstalled_driver_fails_typed(host_service, ctx,
                                                                    monkeypatch):
    monkeypatch.setattr(hosts_mod.driver_manager, "load_driver_class", REAL_LOAD)
    host_service("h2", fake={"endpoint": "192.0.2.2"})  # "fake" has no entry point
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    port = api.create_port(ctx, network_id=net.id)
    with pytest.raises(exc.BindingFailed, match="fake"):
        api.attach_port(ctx, port.id, "vif-1", host="h2")


# -- desired state -------------------------------------------------------------------


def test_desired_state_ports_and_live_vxlan_peers(host_service, admin_ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    host_service("h2", fake={"endpoint": "192.0.2.2"})
    host_service("h3", fake={"endpoint": "192.0.2.3"})
    host_service("h4", fake={"endpoint": "192.0.2.4"})
    api = host_service(None, driver_cls=NoopDriver)
    vx = api.create_network(admin_ctx, network_type="vxlan")
    vx2 = api.create_network(admin_ctx, network_type="vxlan")
    local = api.create_network(admin_ctx, network_type="local")
    mine = [bound_port(api, admin_ctx, vx, "h1"), bound_port(api, admin_ctx, local, "h1")]
    bound_port(api, admin_ctx, vx, "h2")
    bound_port(api, admin_ctx, vx, "h2")  # two ports, one peer entry
    bound_port(api, admin_ctx, vx, "h3")  # dies below
    bound_port(api, admin_ctx, vx2, "h4")  # another network: not a peer of vx
    bound_port(api, admin_ctx, local, "h4")  # local networks have no peers
    age_heartbeat(api, "h3", 1000)

    desired = h1.desired_state()
    assert desired.host == "h1"
    assert [(p.id, n.id) for p, n in desired.ports] == [(mine[0].id, vx.id),
                                                       (mine[1].id, local.id)]
    assert desired.peers == {vx.id: [base.Peer("h2", "192.0.2.2")]}


def test_desired_state_needs_a_host(host_service):
    with pytest.raises(exc.InvalidInput):
        host_service(None, driver_cls=NoopDriver).desired_state()


# -- sync ---------------------------------------------------------------------------


def test_sync_plugs_ports_bound_by_another_process(host_service, ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    up = bound_port(api, ctx, net, "h1")
    down = bound_port(api, ctx, net, "h1", admin_state_up=False)
    assert {up.status, down.status} == {constants.PORT_STATUS_BUILD}

    report = h1.sync()
    assert sorted(report.created) == sorted([f"port {up.id}", f"port {down.id}"])
    assert report.status_changes == {up.id: "BUILD -> ACTIVE", down.id: "BUILD -> DOWN"}
    assert api.get_port(ctx, up.id).status == constants.PORT_STATUS_ACTIVE
    assert api.get_port(ctx, down.id).status == constants.PORT_STATUS_DOWN

    again = h1.sync()
    assert not again.changed
    assert api.get_port(ctx, up.id).revision_number == h1.get_port(ctx, up.id).revision_number


def test_sync_records_failures_with_reason_and_recovers(host_service, ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    net = h1.create_network(ctx, name="n")
    port = bound_port(host_service(None, driver_cls=NoopDriver), ctx, net, "h1")
    fake.failed_ports[port.id] = "bridge brq123 is missing"
    h1.sync()
    failed = h1.get_port(ctx, port.id)
    assert (failed.status, failed.status_reason) == ("ERROR", "bridge brq123 is missing")
    fake.failed_ports.clear()
    h1.sync()
    fixed = h1.get_port(ctx, port.id)
    assert (fixed.status, fixed.status_reason) == ("ACTIVE", None)


def test_sync_turns_a_port_stuck_in_build_active_when_its_device_exists(host_service, ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    net = h1.create_network(ctx, name="n")
    port = bound_port(host_service(None, driver_cls=NoopDriver), ctx, net, "h1")
    fake.report_active = False
    fake.plugged[port.id] = net.id  # device made, status never recorded (crash)
    h1.sync()
    assert h1.get_port(ctx, port.id).status == constants.PORT_STATUS_ACTIVE


def test_sync_removes_ports_no_longer_bound_here(host_service, ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    port = bound_port(api, ctx, net, "h1")
    h1.sync()
    api.detach_port(ctx, port.id)
    report = h1.sync()
    assert report.removed == [f"port {port.id}"]
    assert port.id not in fake.plugged


def test_sync_heartbeats(host_service, admin_ctx):
    h1 = host_service("h1", host_down_time=30)
    age_heartbeat(h1, "h1", 100)
    h1.sync()
    assert h1.get_host(admin_ctx, "h1").alive


def sync_threads():
    return [t for t in threading.enumerate() if t.name.startswith("naas-sync-")]


def test_start_sync_runs_rounds_survives_errors_and_stops_cleanly(host_service, ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    api = host_service(None, driver_cls=NoopDriver)
    net = api.create_network(ctx, name="n")
    fake.sync_errors = 2
    loop = h1.start_sync(0.05)
    assert h1.start_sync(0.05) is loop  # already running
    port = bound_port(api, ctx, net, "h1")
    # Rounds that start after the binding: at most two fail, the next one plugs the
    # port and records it ACTIVE before the round after it has finished its sync.
    assert fake.wait_for_syncs(fake.syncs_started() + 4)
    assert api.get_port(ctx, port.id).status == constants.PORT_STATUS_ACTIVE
    assert loop.failures == 2 and loop.rounds > 2
    h1.stop_sync()
    assert not loop.running and sync_threads() == []
    rounds, syncs = loop.rounds, fake.syncs_finished
    # No round comes after the stop: none within three intervals.
    assert not fake.wait_for_syncs(syncs + 1, timeout=3 * loop.interval)
    assert loop.rounds == rounds
    h1.stop_sync()  # a second stop is a no-op


def test_close_stops_the_sync_loop(host_service):
    h1 = host_service("h1")
    h1.start_sync(0.05)
    assert sync_threads()
    h1.close()
    assert sync_threads() == []


def test_start_sync_needs_a_host(host_service):
    with pytest.raises(exc.InvalidInput):
        host_service(None, driver_cls=NoopDriver).start_sync(1)


# -- updates applied on this host ----------------------------------------------------------


def test_admin_state_change_replugs_the_device(host_service, ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    net = h1.create_network(ctx, name="n")
    port = h1.create_port(ctx, network_id=net.id)
    h1.attach_port(ctx, port.id, "vif-1", host="h1")
    assert h1.get_port(ctx, port.id).status == constants.PORT_STATUS_ACTIVE
    down = h1.update_port(ctx, port.id, admin_state_up=False)
    assert down.status == constants.PORT_STATUS_DOWN
    assert fake.plugs[-1] == (port.id, False)
    up = h1.update_port(ctx, port.id, admin_state_up=True)
    assert up.status == constants.PORT_STATUS_ACTIVE
    assert fake.plugs[-1] == (port.id, True)
    h1.update_port(ctx, port.id, name="renamed")
    assert len(fake.plugs) == 3  # no replug for a change the host does not see


def test_binding_moved_away_unplugs_and_moved_here_plugs(host_service, admin_ctx):
    h1 = host_service("h1", fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    host_service("h2", fake={"endpoint": "192.0.2.2"})
    net = h1.create_network(admin_ctx, network_type="vxlan")
    port = h1.create_port(admin_ctx, network_id=net.id)
    here = h1.update_port(admin_ctx, port.id, binding_host_id="h1")
    assert here.status == constants.PORT_STATUS_ACTIVE and port.id in fake.plugged
    away = h1.update_port(admin_ctx, port.id, binding_host_id="h2")
    assert away.binding_vif_details["host"] == "h2"
    assert port.id not in fake.plugged
