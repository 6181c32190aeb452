"""Attachments: one VIF per port, binding to a host, and the Quantum v1.0 rules."""

from __future__ import annotations

import uuid

import pytest

from naas_lib import constants, objects
from naas_lib import exceptions as exc


@pytest.fixture
def port(service, ctx, net, subnet):
    return service.create_port(ctx, network_id=net.id)


def test_attach_binds_to_remote_host(service, ctx, port):
    att = service.attach_port(ctx, port.id, "vif-1", instance_id="vm-1", host="compute-1")
    assert isinstance(att, objects.Attachment)
    assert (att.port_id, att.interface_id, att.instance_id, att.host) == (
        port.id, "vif-1", "vm-1", "compute-1")
    bound = service.get_port(ctx, port.id)
    assert bound.binding_host_id == "compute-1"
    assert bound.binding_vif_type == constants.VIF_TYPE_TAP  # chosen by the noop driver
    assert bound.binding_vif_details["devname"] == ("tap" + port.id)[:14]  # Nova's length
    assert bound.status == constants.PORT_STATUS_BUILD  # until compute-1 plugs it
    assert bound.device_id == "vm-1"
    assert bound.revision_number > port.revision_number
    assert service.get_attachment(ctx, port.id) == att


def test_attach_to_own_host_is_plugged_and_active(make_service, ctx):
    svc = make_service(host="compute-1")
    net = svc.create_network(ctx)
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    port = svc.create_port(ctx, network_id=net.id)
    svc.attach_port(ctx, port.id, "vif-1", instance_id="vm-1")  # host defaults to its own
    bound = svc.get_port(ctx, port.id)
    assert (bound.binding_host_id, bound.status) == ("compute-1", constants.PORT_STATUS_ACTIVE)
    assert svc.driver.is_plugged(bound, net)
    svc.detach_port(ctx, port.id)
    assert not svc.driver.is_plugged(bound, net)


def test_attach_admin_down_port_on_own_host_stays_down(make_service, ctx):
    svc = make_service(host="compute-1")
    net = svc.create_network(ctx)
    port = svc.create_port(ctx, network_id=net.id, admin_state_up=False)
    svc.attach_port(ctx, port.id, "vif-1", host="compute-1")
    assert svc.get_port(ctx, port.id).status == constants.PORT_STATUS_DOWN


def test_attach_without_host_records_only(service, ctx, port):
    service.attach_port(ctx, port.id, "vif-1")
    p = service.get_port(ctx, port.id)
    assert (p.binding_host_id, p.status) == (None, constants.PORT_STATUS_DOWN)


def test_detach_clears_binding_and_device(service, ctx, port):
    service.attach_port(ctx, port.id, "vif-1", instance_id="vm-1", host="compute-1")
    att = service.detach_port(ctx, port.id)
    assert att.interface_id == "vif-1"
    p = service.get_port(ctx, port.id)
    assert p.binding_host_id is None
    assert p.binding_vif_type == constants.VIF_TYPE_UNBOUND
    assert p.binding_vif_details == {}
    assert p.device_id == ""
    assert p.status == constants.PORT_STATUS_DOWN
    with pytest.raises(exc.AttachmentNotFound):
        service.get_attachment(ctx, port.id)
    assert service.detach_port(ctx, port.id) is None  # nothing attached any more


def test_detach_keeps_device_id_set_by_caller(service, ctx, net):
    port = service.create_port(ctx, network_id=net.id, device_id="router-1")
    service.attach_port(ctx, port.id, "vif-1", instance_id="vm-1", host="h")
    service.detach_port(ctx, port.id)
    assert service.get_port(ctx, port.id).device_id == "router-1"


def test_detach_unattached_returns_none(service, ctx, port, db_unchanged):
    with db_unchanged():
        assert service.detach_port(ctx, port.id) is None


def test_already_attached(service, ctx, port, db_unchanged):
    service.attach_port(ctx, port.id, "vif-1", host="h1")
    with db_unchanged(), pytest.raises(exc.AlreadyAttached) as info:
        service.attach_port(ctx, port.id, "vif-2", host="h2")
    assert "vif-1" in str(info.value)


def test_interface_in_use(service, ctx, net, port, db_unchanged):
    service.attach_port(ctx, port.id, "vif-1", host="h1")
    other = service.create_port(ctx, network_id=net.id)
    with db_unchanged(), pytest.raises(exc.InterfaceInUse):
        service.attach_port(ctx, other.id, "vif-1", host="h1")


def test_delete_attached_port_refused(service, ctx, port, db_unchanged):
    service.attach_port(ctx, port.id, "vif-1", host="h1")
    with db_unchanged(), pytest.raises(exc.PortInUse) as info:
        service.delete_port(ctx, port.id)
    assert "vif-1" in str(info.value)
    service.detach_port(ctx, port.id)
    service.delete_port(ctx, port.id)


def test_list_attachments(service, ctx, other_ctx, admin_ctx, net):
    a = service.create_port(ctx, network_id=net.id)
    b = service.create_port(ctx, network_id=net.id)
    service.attach_port(ctx, a.id, "vif-a", instance_id="vm-1", host="h1")
    service.attach_port(ctx, b.id, "vif-b", instance_id="vm-2", host="h2")
    assert [x.interface_id for x in service.list_attachments(ctx)] == ["vif-a", "vif-b"]
    assert [x.port_id for x in service.list_attachments(ctx, instance_id="vm-2")] == [b.id]
    assert [x.port_id for x in service.list_attachments(ctx, host="h1")] == [a.id]
    assert service.list_attachments(other_ctx) == []
    assert len(service.list_attachments(admin_ctx)) == 2


@pytest.mark.parametrize("interface_id", ["", None, 5])
def test_bad_interface_id(service, ctx, port, db_unchanged, interface_id):
    with db_unchanged(), pytest.raises(exc.InvalidInput):
        service.attach_port(ctx, port.id, interface_id)


def test_attach_missing_port(service, ctx):
    with pytest.raises(exc.PortNotFound):
        service.attach_port(ctx, str(uuid.uuid4()), "vif-1")
    with pytest.raises(exc.PortNotFound):
        service.detach_port(ctx, str(uuid.uuid4()))


def test_set_port_status_refuses_unknown(service, port):
    with pytest.raises(exc.RequestedStateInvalid):
        service.set_port_status(port.id, "SLEEPING")


def test_network_admin_state_reaches_this_hosts_ports_at_once(make_service, ctx):
    svc = make_service(host="compute-1")
    net = svc.create_network(ctx, name="n")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.5.0.0/24")
    port = svc.create_port(ctx, network_id=net.id)
    svc.attach_port(ctx, port.id, "vif-n", instance_id="vm-n")
    assert svc.get_port(ctx, port.id).status == "ACTIVE"
    svc.update_network(ctx, net.id, admin_state_up=False)
    assert svc.get_port(ctx, port.id).status == "DOWN"
    svc.update_network(ctx, net.id, admin_state_up=True)
    assert svc.get_port(ctx, port.id).status == "ACTIVE"


def test_create_ports_with_a_taken_interface_creates_nothing(service, ctx, net, port,
                                                             db_unchanged):
    service.attach_port(ctx, port.id, "vif-1", host="h1")
    with db_unchanged(), pytest.raises(exc.InterfaceInUse, match=port.id):
        service.create_ports(ctx, [{"network_id": net.id}, {"network_id": net.id}],
                             attachments=[{"interface_id": "vif-2", "host": "h1"},
                                          {"interface_id": "vif-1", "host": "h1"}])


def test_create_ports_naming_one_interface_twice_creates_nothing(service, ctx, net, subnet,
                                                                 db_unchanged):
    with db_unchanged(), pytest.raises(exc.InterfaceInUse, match="vif-9"):
        service.create_ports(ctx, [{"network_id": net.id}, {"network_id": net.id}],
                             attachments=[{"interface_id": "vif-9", "host": "h1"},
                                          {"interface_id": "vif-9", "host": "h1"}])


def test_create_ports_attached_reads_back_as_returned(service, ctx, net, subnet):
    made = service.create_ports(ctx, [{"network_id": net.id}, {"network_id": net.id}],
                                attachments=[{"interface_id": "vif-a", "instance_id": "vm",
                                              "host": "h1"}, None])
    assert made[0] == service.get_port(ctx, made[0].id)
    assert (made[0].status, made[0].device_id, made[0].binding_host_id) == ("BUILD", "vm", "h1")
    assert made[1] == service.get_port(ctx, made[1].id)
    assert service.get_attachment(ctx, made[0].id).interface_id == "vif-a"
