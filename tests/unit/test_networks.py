"""Networks: creation defaults, updates, and the Quantum v1.0 deletion rules."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from naas_lib import constants, objects
from naas_lib import exceptions as exc
from naas_lib.db import models
from tests.support.fake_driver import FakeDriver


def count(service, model) -> int:
    with service.db.reader() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_defaults(service, ctx):
    net = service.create_network(ctx, name="web", description="front end")
    assert isinstance(net, objects.Network)
    assert uuid.UUID(net.id)
    assert (net.name, net.description, net.project_id) == ("web", "front end", "project-a")
    assert net.tenant_id == "project-a"
    assert net.admin_state_up is True and net.shared is False
    assert net.status == constants.NET_STATUS_ACTIVE
    assert net.revision_number == 1
    assert net.subnets == ()
    assert net.created_at == net.updated_at
    assert service.get_network(ctx, net.id) == net


def test_subnets_listed_on_network(service, ctx, net):
    s1 = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    s2 = service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64")
    assert set(service.get_network(ctx, net.id).subnets) == {s1.id, s2.id}


def test_update_returns_new_state(service, ctx, net):
    upd = service.update_network(ctx, net.id, name="renamed", admin_state_up=False)
    assert (upd.name, upd.admin_state_up, upd.revision_number) == ("renamed", False, 2)
    assert upd.updated_at >= net.updated_at
    assert service.get_network(ctx, net.id) == upd


def test_provider_attributes_are_immutable(service, admin_ctx):
    net = service.create_network(admin_ctx)
    with pytest.raises(exc.InvalidInput, match="cannot be changed"):
        service.update_network(admin_ctx, net.id, segmentation_id=99)


def test_get_fields_returns_dict(service, ctx, net):
    assert service.get_network(ctx, net.id, fields=["id", "name"]) == {"id": net.id,
                                                                        "name": "net"}


@pytest.mark.parametrize("missing", [str(uuid.uuid4()), "nope", 12])
def test_missing_network(service, ctx, missing):
    with pytest.raises(exc.NetworkNotFound):
        service.get_network(ctx, missing)
    with pytest.raises(exc.NetworkNotFound):
        service.update_network(ctx, missing, name="x")
    with pytest.raises(exc.NetworkNotFound):
        service.delete_network(ctx, missing)


def test_delete_network(service, ctx, net):
    service.delete_network(ctx, net.id)
    with pytest.raises(exc.NetworkNotFound):
        service.get_network(ctx, net.id)
    assert count(service, models.SegmentAllocation) == 0


def test_delete_network_with_attached_port_is_refused(service, ctx, net, subnet, db_unchanged):
    port = service.create_port(ctx, network_id=net.id)
    service.attach_port(ctx, port.id, "vif-1", host="compute-1")
    with db_unchanged(), pytest.raises(exc.NetworkInUse) as info:
        service.delete_network(ctx, net.id)
    assert net.id in str(info.value)
    service.detach_port(ctx, port.id)
    service.delete_network(ctx, net.id)
    assert service.list_ports(ctx) == []


def test_delete_network_removes_unattached_ports_and_frees_addresses(service, ctx, net,
                                                                     subnet):
    ports = [service.create_port(ctx, network_id=net.id) for _ in range(3)]
    other = service.create_network(ctx)
    service.create_subnet(ctx, network_id=other.id, cidr="10.0.0.0/24", enable_dhcp=False)
    kept = service.create_port(ctx, network_id=other.id)
    service.delete_network(ctx, net.id)
    for p in ports:
        with pytest.raises(exc.PortNotFound):
            service.get_port(ctx, p.id)
    with service.db.reader() as session:
        left = session.execute(sa.select(models.IpAllocation.port_id)).scalars().all()
        pools = session.scalar(sa.select(sa.func.count()).select_from(models.AllocationPool))
        free = session.scalar(sa.select(sa.func.count()).select_from(models.IpFree))
    assert left == [kept.id]  # only the other network's address is still allocated
    assert pools == 1  # the deleted subnet's pool went with it
    assert free == 0
    assert count(service, models.Subnet) == 1


def test_same_cidr_usable_after_network_delete(service, ctx, net, subnet):
    first = service.create_port(ctx, network_id=net.id)
    service.delete_network(ctx, net.id)
    again = service.create_network(ctx)
    service.create_subnet(ctx, network_id=again.id, cidr="10.0.0.0/24")
    port = service.create_port(ctx, network_id=again.id)
    assert port.fixed_ips[0].ip_address == first.fixed_ips[0].ip_address


def test_unshare_refused_while_other_projects_use_it(service, admin_ctx, other_ctx):
    net = service.create_network(admin_ctx, shared=True)
    service.create_subnet(admin_ctx, network_id=net.id, cidr="10.0.0.0/24")
    service.create_port(other_ctx, network_id=net.id)
    with pytest.raises(exc.Conflict):
        service.update_network(admin_ctx, net.id, shared=False)
    assert service.get_network(admin_ctx, net.id).shared is True


def test_write_read_only_fields(service, ctx, net, db_unchanged):
    with db_unchanged():
        for attrs in ({"status": "DOWN"}, {"revision_number": 5}, {"id": "x"},
                      {"status": "SLEEPING"}):
            with pytest.raises(exc.RequestedStateInvalid):
                service.update_network(ctx, net.id, **attrs)
            with pytest.raises(exc.RequestedStateInvalid):
                service.create_network(ctx, **attrs)


def test_unknown_status_message(service, ctx, net):
    with pytest.raises(exc.RequestedStateInvalid, match="not a status"):
        service.update_network(ctx, net.id, status="SLEEPING")
    with pytest.raises(exc.RequestedStateInvalid, match="read-only"):
        service.update_network(ctx, net.id, status="ACTIVE")


def test_driver_failure_on_create_is_compensated(make_service, ctx):
    service = make_service(vni_ranges=["10:10"], tenant_network_types=["vxlan"],
                           driver_cls=FakeDriver)
    FakeDriver.on(None).fail_next["create_network_postcommit"] = RuntimeError(
        "switch unreachable")
    with pytest.raises(exc.DriverError, match="switch unreachable"):
        service.create_network(ctx)
    assert service.list_networks(ctx) == []
    assert count(service, models.SegmentAllocation) == 0
    assert service.create_network(ctx).segmentation_id == 10  # the VNI came back


def test_get_networks_gives_only_what_the_caller_may_see(service, ctx, other_ctx):
    mine = service.create_network(ctx, name="mine")
    theirs = service.create_network(other_ctx, name="theirs")
    shared = service.create_network(other_ctx.elevated(), name="shared", shared=True,
                                    project_id=other_ctx.project_id)
    missing = "00000000-0000-4000-8000-000000000000"
    got = service.get_networks(ctx, [theirs.id, mine.id, shared.id, missing, mine.id])
    assert got == sorted([service.get_network(ctx, mine.id),
                          service.get_network(ctx, shared.id)], key=lambda n: n.id)
    assert service.get_networks(other_ctx.elevated(), [mine.id, theirs.id]) == sorted(
        [service.get_network(ctx, mine.id), service.get_network(other_ctx, theirs.id)],
        key=lambda n: n.id)
    with pytest.raises(exc.InvalidInput):
        service.get_networks(ctx, ["a\x00b"])
