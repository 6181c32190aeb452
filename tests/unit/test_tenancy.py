"""Tenancy: who sees and uses what; other projects' private resources do not exist."""

from __future__ import annotations

import pytest

from naas_lib import RequestContext
from naas_lib import exceptions as exc


@pytest.fixture
def private(service, other_ctx):
    """Project B's private network with a subnet and a port."""
    net = service.create_network(other_ctx, name="b-private")
    sub = service.create_subnet(other_ctx, network_id=net.id, cidr="10.9.0.0/24")
    port = service.create_port(other_ctx, network_id=net.id)
    return net, sub, port


@pytest.fixture
def shared(service, admin_ctx):
    net = service.create_network(admin_ctx, name="public", shared=True)
    sub = service.create_subnet(admin_ctx, network_id=net.id, cidr="203.0.113.0/24")
    return net, sub


def test_non_admin_sees_own_and_shared(service, ctx, private, shared):
    own = service.create_network(ctx, name="mine")
    names = {n.name for n in service.list_networks(ctx)}
    assert names == {"mine", "public"}
    assert service.get_network(ctx, shared[0].id).shared is True
    assert {s.id for s in service.list_subnets(ctx)} == {shared[1].id}
    assert service.get_subnet(ctx, shared[1].id).cidr == "203.0.113.0/24"
    assert service.list_ports(ctx) == []
    assert service.get_network(ctx, own.id).project_id == "project-a"


def test_other_projects_private_resources_are_not_found(service, ctx, private, db_unchanged):
    net, sub, port = private
    with db_unchanged():
        for call, error in [
            (lambda: service.get_network(ctx, net.id), exc.NetworkNotFound),
            (lambda: service.update_network(ctx, net.id, name="x"), exc.NetworkNotFound),
            (lambda: service.delete_network(ctx, net.id), exc.NetworkNotFound),
            (lambda: service.create_port(ctx, network_id=net.id), exc.NetworkNotFound),
            (lambda: service.create_subnet(ctx, network_id=net.id, cidr="10.8.0.0/24"),
             exc.NetworkNotFound),
            (lambda: service.get_subnet(ctx, sub.id), exc.SubnetNotFound),
            (lambda: service.update_subnet(ctx, sub.id, name="x"), exc.SubnetNotFound),
            (lambda: service.delete_subnet(ctx, sub.id), exc.SubnetNotFound),
            (lambda: service.get_port(ctx, port.id), exc.PortNotFound),
            (lambda: service.update_port(ctx, port.id, name="x"), exc.PortNotFound),
            (lambda: service.delete_port(ctx, port.id), exc.PortNotFound),
            (lambda: service.attach_port(ctx, port.id, "vif-x"), exc.PortNotFound),
            (lambda: service.detach_port(ctx, port.id), exc.PortNotFound),
        ]:
            with pytest.raises(error):
                call()
    assert {n.id for n in service.list_networks(ctx)} == set()
    assert service.list_subnets(ctx) == [] and service.list_ports(ctx) == []


def test_not_found_error_is_the_same_as_for_a_missing_id(service, ctx, private):
    with pytest.raises(exc.NetworkNotFound) as hidden:
        service.get_network(ctx, private[0].id)
    with pytest.raises(exc.NetworkNotFound) as missing:
        service.get_network(ctx, "00000000-0000-0000-0000-000000000000")
    assert type(hidden.value) is type(missing.value)
    assert hidden.value.kind == "not_found"
    assert str(hidden.value) == str(missing.value).replace(
        "00000000-0000-0000-0000-000000000000", private[0].id)


def test_shared_network_usable_not_writable(service, ctx, shared, db_unchanged):
    net, sub = shared
    port = service.create_port(ctx, network_id=net.id)
    assert port.project_id == "project-a"
    assert port.fixed_ips[0].subnet_id == sub.id
    with db_unchanged():
        with pytest.raises(exc.NotAuthorized):
            service.update_network(ctx, net.id, name="mine now")
        with pytest.raises(exc.NotAuthorized):
            service.delete_network(ctx, net.id)
        with pytest.raises(exc.NotAuthorized):
            service.create_subnet(ctx, network_id=net.id, cidr="10.1.0.0/24")
        with pytest.raises(exc.NotAuthorized):
            service.update_subnet(ctx, sub.id, name="x")


def test_ports_of_others_on_shared_network_are_hidden(service, ctx, other_ctx, shared):
    mine = service.create_port(ctx, network_id=shared[0].id)
    theirs = service.create_port(other_ctx, network_id=shared[0].id)
    assert [p.id for p in service.list_ports(ctx)] == [mine.id]
    with pytest.raises(exc.PortNotFound):
        service.get_port(ctx, theirs.id)


def test_only_admin_creates_shared(service, ctx, db_unchanged):
    with db_unchanged(), pytest.raises(exc.NotAuthorized) as info:
        service.create_network(ctx, shared=True)
    assert info.value.kind == "forbidden"


@pytest.mark.parametrize("attrs", [
    {"network_type": "vxlan"}, {"network_type": "vxlan", "segmentation_id": 77},
    {"network_type": "local"}, {"segmentation_id": 77}, {"physical_network": "physnet1"},
])
def test_only_admin_sets_provider_attributes(service, ctx, db_unchanged, attrs):
    with db_unchanged(), pytest.raises(exc.NotAuthorized):
        service.create_network(ctx, **attrs)


def test_only_admin_changes_shared(service, ctx, net, db_unchanged):
    with db_unchanged(), pytest.raises(exc.NotAuthorized):
        service.update_network(ctx, net.id, shared=True)


def test_only_admin_sets_binding(service, ctx, net, db_unchanged):
    port = service.create_port(ctx, network_id=net.id)
    with db_unchanged():
        with pytest.raises(exc.NotAuthorized):
            service.create_port(ctx, network_id=net.id, binding_host_id="h1")
        with pytest.raises(exc.NotAuthorized):
            service.update_port(ctx, port.id, binding_profile={"a": 1})


def test_only_admin_creates_for_another_project(service, ctx, admin_ctx, db_unchanged):
    with db_unchanged(), pytest.raises(exc.NotAuthorized):
        service.create_network(ctx, project_id="project-b")
    net = service.create_network(admin_ctx, project_id="project-b")
    assert net.project_id == "project-b"


def test_admin_sees_and_manages_all(service, admin_ctx, private):
    net, sub, port = private
    assert net.id in {n.id for n in service.list_networks(admin_ctx)}
    assert service.get_subnet(admin_ctx, sub.id).id == sub.id
    assert service.get_port(admin_ctx, port.id).id == port.id
    service.delete_port(admin_ctx, port.id)
    service.delete_network(admin_ctx, net.id)


def test_admin_role_makes_an_admin_context(service, private):
    by_role = RequestContext(project_id="ops", user_id="op", roles=["member", "admin"])
    by_flag = RequestContext(project_id="ops", user_id="op", roles=[], is_admin=True)
    plain = RequestContext(project_id="ops", user_id="op", roles=["member"])
    assert by_role.is_admin and by_flag.is_admin and not plain.is_admin
    assert service.get_network(by_role, private[0].id).id == private[0].id
    assert service.get_network(by_flag, private[0].id).id == private[0].id
    with pytest.raises(exc.NetworkNotFound):
        service.get_network(plain, private[0].id)
    shared = service.create_network(by_role, shared=True)
    assert shared.shared is True


def test_provider_network_created_by_admin(service, admin_ctx):
    net = service.create_network(admin_ctx, network_type="vxlan", segmentation_id=500)
    assert net.segmentation_id == 500


def test_policy_override_file(make_service, ctx, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text('"create_network:shared": "role:member"\n'
                      '"delete_network": "rule:context_is_admin"\n')
    conf = tmp_path / "naas.conf"
    conf.write_text(f"[oslo_policy]\npolicy_file = {policy}\n")
    svc = make_service(config_files=[str(conf)])
    net = svc.create_network(ctx, shared=True)  # members may now share
    assert net.shared is True
    with pytest.raises(exc.NotAuthorized):
        svc.delete_network(ctx, net.id)  # and may no longer delete
    assert svc.get_network(ctx, net.id).id == net.id


def test_default_policy_without_override(service, ctx):
    net = service.create_network(ctx)
    service.delete_network(ctx, net.id)
    with pytest.raises(exc.NotAuthorized):
        service.create_network(ctx, shared=True)


def test_subnet_added_by_admin_is_visible_to_the_network_owner(service, ctx, admin_ctx):
    """The owner sees the subnet its network lists and its ports have addresses on."""
    net = service.create_network(ctx)
    sub = service.create_subnet(admin_ctx, network_id=net.id, cidr="10.0.0.0/24")
    assert sub.project_id == "project-a"
    port = service.create_port(ctx, network_id=net.id)
    assert port.fixed_ips[0].subnet_id == sub.id
    assert service.get_subnet(ctx, sub.id).cidr == "10.0.0.0/24"
    assert [s.id for s in service.list_subnets(ctx)] == [sub.id]
    explicit = service.create_subnet(admin_ctx, network_id=net.id, cidr="10.1.0.0/24",
                                     project_id="admin-project")
    assert explicit.project_id == "admin-project"


def test_interface_in_use_does_not_name_another_projects_port(service, ctx, other_ctx,
                                                              private):
    _, _, theirs = private
    service.attach_port(other_ctx, theirs.id, "vif-shared-id", host="h1")
    mine_net = service.create_network(ctx)
    mine = service.create_port(ctx, network_id=mine_net.id)
    with pytest.raises(exc.InterfaceInUse) as info:
        service.attach_port(ctx, mine.id, "vif-shared-id", host="h1")
    assert theirs.id not in str(info.value)
    # the owner of both ports is told which one
    second = service.create_port(other_ctx, network_id=theirs.network_id)
    with pytest.raises(exc.InterfaceInUse, match=theirs.id):
        service.attach_port(other_ctx, second.id, "vif-shared-id", host="h1")
