"""Port bindings per host: one ACTIVE binding, INACTIVE ones while a port moves.

Three services share one SQLite file: hosts ``src`` and ``dst`` (the fake
VXLAN driver of ``test_hosts_sync``) and an API service with no host, which
binds for the others from their recorded driver, as Nova's conductor does.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import constants
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.drivers.noop import NoopDriver
from naas_lib.resources import binding as binding_mod
from tests.support.fake_driver import FakeDriver
from tests.unit.test_hosts_sync import REAL_LOAD


@pytest.fixture(autouse=True)
def fake_entry_point(monkeypatch):
    monkeypatch.setattr(binding_mod.driver_manager, "load_driver_class",
                        lambda name: FakeDriver if name == FakeDriver.name else REAL_LOAD(name))


@pytest.fixture
def hosts(make_service, tmp_path):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    src = make_service(database_url=url, host="src", driver="fake", driver_cls=FakeDriver,
                       fake={"endpoint": "192.0.2.1"})
    dst = make_service(database_url=url, host="dst", driver="fake", driver_cls=FakeDriver,
                       fake={"endpoint": "192.0.2.2"})
    api = make_service(database_url=url, driver="noop", driver_cls=NoopDriver)
    return src, dst, api


@pytest.fixture
def moving(hosts, admin_ctx):
    """A port attached and bound on ``src``, plugged there."""
    src, dst, api = hosts
    net = api.create_network(admin_ctx, network_type="vxlan")
    api.create_subnet(admin_ctx, network_id=net.id, cidr="10.1.0.0/24")
    port = api.create_port(admin_ctx, network_id=net.id)
    src.attach_port(admin_ctx, port.id, f"vif-{port.id}", instance_id="vm", host="src")
    return net, api.get_port(admin_ctx, port.id)


def test_a_new_port_has_no_bindings_and_binding_it_lists_one_active(hosts, admin_ctx):
    _, _, api = hosts
    net = api.create_network(admin_ctx, network_type="vxlan")
    port = api.create_port(admin_ctx, network_id=net.id)
    assert api.list_port_bindings(admin_ctx, port.id) == []
    b = api.create_port_binding(admin_ctx, port.id, "dst", profile={"k": "v"})
    assert (b.host, b.status, b.vif_type) == ("dst", "ACTIVE", "tap")
    assert b.vif_details["bound_by"] == "fake"
    port = api.get_port(admin_ctx, port.id)
    assert (port.binding_host_id, port.binding_vif_type) == ("dst", "tap")
    assert dict(port.binding_profile) == {"k": "v"}


def test_inactive_binding_chosen_by_destination_driver_port_unchanged(hosts, admin_ctx, moving):
    src, dst, api = hosts
    net, port = moving
    b = api.create_port_binding(admin_ctx, port.id, "dst", profile={"migrating_to": "dst"})
    assert (b.status, b.vif_type, b.vif_details["host"]) == ("INACTIVE", "tap", "dst")
    after = api.get_port(admin_ctx, port.id)
    assert (after.binding_host_id, after.status) == ("src", "ACTIVE")
    assert after.binding_vif_details == port.binding_vif_details
    assert [(x.host, x.status) for x in api.list_port_bindings(admin_ctx, port.id)] == [
        ("src", "ACTIVE"), ("dst", "INACTIVE")]
    assert api.get_port_binding(admin_ctx, port.id, "dst") == b
    with pytest.raises(exc.PortBindingAlreadyExists):
        api.create_port_binding(admin_ctx, port.id, "dst")


def test_destination_plugs_inactive_binding_without_touching_port_status(hosts, admin_ctx,
                                                                           moving):
    src, dst, api = hosts
    net, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    desired = dst.desired_state()
    assert [(p.id, p.binding_host_id) for p, _ in desired.ports] == [(port.id, "dst")]
    # each host sees the other as a VXLAN peer while the port is on both
    assert [p.host for p in desired.peers[net.id]] == ["src"]
    assert [p.host for p in src.desired_state().peers[net.id]] == ["dst"]
    dst.sync()
    assert dst.driver.is_plugged(desired.ports[0][0], net)
    assert api.get_port(admin_ctx, port.id).status == "ACTIVE"  # src's status stands
    plugged = dst.plug_port(port.id)
    assert plugged.binding_host_id == "dst"


def test_activate_moves_the_port_and_old_binding_becomes_inactive(hosts, admin_ctx, moving):
    src, dst, api = hosts
    net, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    b = api.activate_port_binding(admin_ctx, port.id, "dst")
    assert b.status == "ACTIVE"
    after = api.get_port(admin_ctx, port.id)
    assert (after.binding_host_id, after.status) == ("dst", constants.PORT_STATUS_BUILD)
    assert after.binding_vif_details["host"] == "dst"
    assert api.get_attachment(admin_ctx, port.id).host == "dst"
    assert [(x.host, x.status) for x in api.list_port_bindings(admin_ctx, port.id)] == [
        ("dst", "ACTIVE"), ("src", "INACTIVE")]
    dst.sync()
    assert api.get_port(admin_ctx, port.id).status == constants.PORT_STATUS_ACTIVE
    src.sync()  # the old host still serves its INACTIVE binding but writes no status
    assert api.get_port(admin_ctx, port.id).status == constants.PORT_STATUS_ACTIVE
    with pytest.raises(exc.PortBindingAlreadyActive):
        api.activate_port_binding(admin_ctx, port.id, "dst")


def test_activating_on_own_host_plugs_at_once(hosts, admin_ctx, moving):
    src, dst, api = hosts
    _, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    dst.activate_port_binding(admin_ctx, port.id, "dst")
    assert api.get_port(admin_ctx, port.id).status == constants.PORT_STATUS_ACTIVE


def test_delete_inactive_binding_and_the_old_host_removes_its_device(hosts, admin_ctx, moving):
    src, dst, api = hosts
    net, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    api.activate_port_binding(admin_ctx, port.id, "dst")
    with pytest.raises(exc.PortBindingActive):
        api.delete_port_binding(admin_ctx, port.id, "dst")
    src.delete_port_binding(admin_ctx, port.id, "src")
    assert not src.driver.is_plugged(port, net)
    assert src.desired_state().ports == []
    with pytest.raises(exc.PortBindingNotFound):
        api.get_port_binding(admin_ctx, port.id, "src")
    with pytest.raises(exc.PortBindingNotFound):
        api.delete_port_binding(admin_ctx, port.id, "src")


def test_aborted_move_leaves_source_and_cleans_destination(hosts, admin_ctx, moving):
    src, dst, api = hosts
    net, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    dst.sync()
    api.delete_port_binding(admin_ctx, port.id, "dst")
    report = dst.sync()
    assert port.id in str(report.removed) or not dst.desired_state().ports
    assert not dst.driver.is_plugged(port, net)
    after = api.get_port(admin_ctx, port.id)
    assert (after.binding_host_id, after.status) == ("src", "ACTIVE")
    assert src.driver.is_plugged(after, net)


def test_detach_drops_every_binding(hosts, admin_ctx, moving):
    src, dst, api = hosts
    _, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    api.detach_port(admin_ctx, port.id)
    assert api.list_port_bindings(admin_ctx, port.id) == []
    assert dst.desired_state().ports == []
    assert api.get_port(admin_ctx, port.id).binding_host_id is None


def test_bindings_of_another_projects_port_are_not_found(hosts, admin_ctx, ctx, other_ctx):
    _, _, api = hosts
    net = api.create_network(ctx, name="n")
    port = api.create_port(ctx, network_id=net.id)
    with pytest.raises(exc.PortNotFound):
        api.list_port_bindings(other_ctx, port.id)
    with pytest.raises(exc.NaasError):  # binding is an admin's operation
        api.create_port_binding(ctx, port.id, "dst")


def test_database_refuses_a_second_active_binding(hosts, admin_ctx, moving):
    _, _, api = hosts
    _, port = moving
    api.create_port_binding(admin_ctx, port.id, "dst")
    with pytest.raises(db_exc.DBDuplicateEntry), api.db.writer() as session:
        session.execute(sa.update(models.PortBinding).where(
            models.PortBinding.port_id == port.id, models.PortBinding.host == "dst")
            .values(active=True))


def test_deleting_the_network_removes_bindings(hosts, admin_ctx):
    _, _, api = hosts
    net = api.create_network(admin_ctx, network_type="vxlan")
    port = api.create_port(admin_ctx, network_id=net.id, binding_host_id="dst")
    api.create_port_binding(admin_ctx, port.id, "src")
    api.delete_port(admin_ctx, port.id)
    api.delete_network(admin_ctx, net.id)
    with api.db.reader() as session:
        assert session.scalars(sa.select(models.PortBinding)).all() == []
