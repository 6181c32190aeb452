"""expected_revision: a stale one changes nothing, a current one is applied."""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc


@pytest.fixture
def port(service, ctx, net, subnet):
    return service.create_port(ctx, network_id=net.id)


def test_network_update(service, ctx, net, db_unchanged):
    with db_unchanged(), pytest.raises(exc.RevisionConflict) as info:
        service.update_network(ctx, net.id, expected_revision=net.revision_number + 1, name="x")
    assert info.value.kind == "conflict"
    upd = service.update_network(ctx, net.id, expected_revision=net.revision_number, name="x")
    assert (upd.name, upd.revision_number) == ("x", net.revision_number + 1)
    with db_unchanged(), pytest.raises(exc.RevisionConflict):
        service.update_network(ctx, net.id, expected_revision=net.revision_number, name="y")


def test_subnet_update(service, ctx, subnet, db_unchanged):
    with db_unchanged(), pytest.raises(exc.RevisionConflict):
        service.update_subnet(ctx, subnet.id, expected_revision=0, name="x",
                              dns_nameservers=["1.1.1.1"])
    upd = service.update_subnet(ctx, subnet.id, expected_revision=subnet.revision_number,
                                dns_nameservers=["1.1.1.1"])
    assert upd.revision_number == subnet.revision_number + 1
    assert upd.dns_nameservers == ("1.1.1.1",)


def test_port_update_with_fixed_ips(service, ctx, port, db_unchanged):
    with db_unchanged(), pytest.raises(exc.RevisionConflict):
        service.update_port(ctx, port.id, expected_revision=port.revision_number + 5,
                            fixed_ips=[{"ip_address": "10.0.0.200"}], name="x")
    upd = service.update_port(ctx, port.id, expected_revision=port.revision_number,
                              fixed_ips=[{"ip_address": "10.0.0.200"}])
    assert upd.revision_number == port.revision_number + 1
    assert upd.fixed_ips[0].ip_address == "10.0.0.200"


@pytest.mark.parametrize("kind", ["network", "subnet", "port"])
def test_delete_with_revision(service, ctx, net, subnet, kind, db_unchanged):
    obj = {"network": net, "subnet": subnet}.get(kind)
    if kind == "port":
        service.delete_subnet(ctx, subnet.id)
        obj = service.create_port(ctx, network_id=net.id)
    delete = getattr(service, f"delete_{kind}")
    get = getattr(service, f"get_{kind}")
    if kind == "network":
        service.update_network(ctx, net.id, name="bumped")
    with db_unchanged(), pytest.raises(exc.RevisionConflict):
        delete(ctx, obj.id, expected_revision=obj.revision_number + 7)
    current = get(ctx, obj.id).revision_number
    delete(ctx, obj.id, expected_revision=current)
    with pytest.raises(exc.NotFound):
        get(ctx, obj.id)


def test_every_update_increments_revision(service, ctx, port):
    revs = [port.revision_number]
    for name in ("a", "b", "c"):
        revs.append(service.update_port(ctx, port.id, name=name).revision_number)
    assert revs == list(range(revs[0], revs[0] + 4))


def test_attach_and_detach_move_the_revision(service, ctx, port, db_unchanged):
    service.attach_port(ctx, port.id, "vif-1", host="h")
    attached = service.get_port(ctx, port.id).revision_number
    assert attached > port.revision_number
    with db_unchanged(), pytest.raises(exc.RevisionConflict):
        service.update_port(ctx, port.id, expected_revision=port.revision_number, name="late")


@pytest.mark.parametrize("bad", ["latest", -1, 1.5, True, [1]])
def test_bad_expected_revision_is_bad_input(service, ctx, port, db_unchanged, bad):
    """A malformed revision is the caller's mistake, not a conflict."""
    net_id, sub_id = port.network_id, port.fixed_ips[0].subnet_id
    with db_unchanged():
        for call in (lambda: service.update_network(ctx, net_id, expected_revision=bad, name="x"),
                     lambda: service.update_subnet(ctx, sub_id, expected_revision=bad, name="x"),
                     lambda: service.update_port(ctx, port.id, expected_revision=bad, name="x"),
                     lambda: service.delete_port(ctx, port.id, expected_revision=bad),
                     lambda: service.delete_subnet(ctx, sub_id, expected_revision=bad),
                     lambda: service.delete_network(ctx, net_id, expected_revision=bad)):
            with pytest.raises(exc.InvalidInput, match="expected_revision"):
                call()
