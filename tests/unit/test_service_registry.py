"""The registry of higher-layer services: CRUD, associations, tenancy and events."""

from __future__ import annotations

import pytest

from naas_lib import events
from naas_lib import exceptions as exc


@pytest.fixture
def fw(service, ctx):
    return service.create_service(ctx, "edge-fw", "firewall", description="stateful")


def test_create_get_list_delete(service, ctx, fw):
    assert (fw.name, fw.service_type, fw.description, fw.project_id) == (
        "edge-fw", "firewall", "stateful", ctx.project_id)
    assert service.get_service(ctx, fw.id) == fw
    nat = service.create_service(ctx, "snat", "nat")
    assert [s.id for s in service.list_services(ctx)] == [fw.id, nat.id]
    assert [s.id for s in service.list_services(ctx, service_type="nat")] == [nat.id]
    service.delete_service(ctx, fw.id)
    with pytest.raises(exc.ServiceNotFound):
        service.get_service(ctx, fw.id)
    assert [s.id for s in service.list_services(ctx)] == [nat.id]


@pytest.mark.parametrize("kwargs, field", [
    ({"name": "x", "service_type": "router"}, "service_type"),
    ({"name": "", "service_type": "vpn"}, "name"),
    ({"name": "x" * 256, "service_type": "vpn"}, "name"),
    ({"name": "x", "service_type": "vpn", "description": 5}, "description"),
])
def test_bad_input_is_refused(service, ctx, db_unchanged, kwargs, field):
    with db_unchanged(), pytest.raises(exc.InvalidInput, match=field):
        service.create_service(ctx, **kwargs)


def test_every_documented_type_is_accepted(service, ctx):
    for t in ("firewall", "nat", "vpn", "load-balancer", "dhcp", "other"):
        assert service.create_service(ctx, t, t).service_type == t


def test_associate_list_both_ways_and_disassociate(service, ctx, fw, net):
    other = service.create_network(ctx, name="other")
    service.associate_service(ctx, fw.id, net.id)
    service.associate_service(ctx, fw.id, other.id)
    assert service.get_service(ctx, fw.id).network_ids == (net.id, other.id)
    assert [n.id for n in service.list_service_networks(ctx, fw.id)] == [net.id, other.id]
    assert [s.id for s in service.list_services(ctx, network_id=net.id)] == [fw.id]
    with pytest.raises(exc.ServiceInUse):
        service.associate_service(ctx, fw.id, net.id)
    service.disassociate_service(ctx, fw.id, net.id)
    assert service.list_services(ctx, network_id=net.id) == []
    with pytest.raises(exc.NotFound):
        service.disassociate_service(ctx, fw.id, net.id)


def test_other_projects_service_is_not_found(service, ctx, other_ctx, fw, net):
    with pytest.raises(exc.ServiceNotFound):
        service.get_service(other_ctx, fw.id)
    with pytest.raises(exc.ServiceNotFound):
        service.delete_service(other_ctx, fw.id)
    with pytest.raises(exc.ServiceNotFound):
        service.list_service_networks(other_ctx, fw.id)
    assert service.list_services(other_ctx) == []
    theirs = service.create_network(other_ctx, name="theirs")
    with pytest.raises(exc.ServiceNotFound):
        service.associate_service(other_ctx, fw.id, theirs.id)
    # Nor may the owner of the service reach into another project's network.
    with pytest.raises(exc.NetworkNotFound):
        service.associate_service(ctx, fw.id, theirs.id)
    with pytest.raises(exc.NetworkNotFound):
        service.list_services(ctx, network_id=theirs.id)


def test_associating_with_a_shared_network_needs_its_owner(service, admin_ctx, ctx, fw):
    shared = service.create_network(admin_ctx, name="public", shared=True)
    with pytest.raises(exc.NotAuthorized):
        service.associate_service(ctx, fw.id, shared.id)
    assert service.associate_service(admin_ctx, fw.id, shared.id).network_id == shared.id


def test_admin_sees_all_and_may_register_for_another_project(service, admin_ctx, ctx,
                                                             other_ctx, fw):
    svc = service.create_service(admin_ctx, "lb", "load-balancer",
                                 project_id=other_ctx.project_id)
    assert svc.project_id == other_ctx.project_id
    assert {s.id for s in service.list_services(admin_ctx)} == {fw.id, svc.id}
    with pytest.raises(exc.NotAuthorized):
        service.create_service(ctx, "lb", "load-balancer", project_id=other_ctx.project_id)


def test_deleting_a_service_removes_its_associations(service, ctx, fw, net):
    service.associate_service(ctx, fw.id, net.id)
    service.delete_service(ctx, fw.id)
    assert service.list_services(ctx, network_id=net.id) == []
    service.delete_network(ctx, net.id)


def test_network_delete_tells_services_first_and_they_may_veto(service, ctx, fw, net,
                                                               db_unchanged):
    seen = []

    def guard(resource, event, trigger, payload):
        seen.append((event, payload.resource_id, payload.metadata["network_id"],
                     payload.metadata["cause"]))
        if event == events.BEFORE_DELETE:
            raise exc.Conflict("edge-fw still filters this network")

    service.associate_service(ctx, fw.id, net.id)
    service.events.subscribe(guard, events.SERVICE_ASSOCIATION, events.BEFORE_DELETE)
    service.events.subscribe(guard, events.SERVICE_ASSOCIATION, events.AFTER_DELETE)
    net_before = []
    service.events.subscribe(lambda *a: net_before.append(a), events.NETWORK,
                             events.BEFORE_DELETE)
    with db_unchanged(), pytest.raises(exc.Conflict, match="still filters"):
        service.delete_network(ctx, net.id)
    assert seen == [(events.BEFORE_DELETE, fw.id, net.id, "network_delete")]
    assert net_before == [], "services are told before the network's own BEFORE_DELETE"

    service.events.unsubscribe(guard, events.SERVICE_ASSOCIATION, events.BEFORE_DELETE)
    service.delete_network(ctx, net.id)
    assert seen[-1] == (events.AFTER_DELETE, fw.id, net.id, "network_delete")
    assert service.get_service(ctx, fw.id).network_ids == ()


def test_service_events_in_order(service, ctx, net):
    seen = []

    def record(resource, event, trigger, payload):
        seen.append((resource, event))

    for res in (events.SERVICE, events.SERVICE_ASSOCIATION):
        for ev in ("before_create", "precommit_create", "after_create",
                   "before_delete", "precommit_delete", "after_delete"):
            service.events.subscribe(record, res, ev)
    svc = service.create_service(ctx, "v", "vpn")
    service.associate_service(ctx, svc.id, net.id)
    service.delete_service(ctx, svc.id)
    S, A = events.SERVICE, events.SERVICE_ASSOCIATION
    assert seen == [
        (S, "before_create"), (S, "precommit_create"), (S, "after_create"),
        (A, "before_create"), (A, "precommit_create"), (A, "after_create"),
        (S, "before_delete"), (A, "before_delete"), (S, "precommit_delete"),
        (A, "after_delete"), (S, "after_delete"),
    ]


def test_precommit_veto_of_association_writes_nothing(service, ctx, fw, net, db_unchanged):
    service.events.subscribe(lambda *a: 1 / 0, events.SERVICE_ASSOCIATION,
                             events.PRECOMMIT_CREATE)
    with db_unchanged(), pytest.raises(exc.CallbackFailure):
        service.associate_service(ctx, fw.id, net.id)
