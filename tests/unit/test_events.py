"""The in-process callback registry and how the service publishes to it."""

from __future__ import annotations

import pytest

from naas_lib import events
from naas_lib import exceptions as exc


def payload() -> events.EventPayload:
    return events.EventPayload(context=None, resource_id="r1", states=("old", None))


def test_priority_then_subscription_order():
    reg = events.CallbackRegistry()
    calls = []
    reg.subscribe(lambda *a: calls.append("late"), events.PORT, events.AFTER_CREATE, priority=2000)
    reg.subscribe(lambda *a: calls.append("first"), events.PORT, events.AFTER_CREATE)
    reg.subscribe(lambda *a: calls.append("second"), events.PORT, events.AFTER_CREATE)
    reg.subscribe(lambda *a: calls.append("early"), events.PORT, events.AFTER_CREATE, priority=1)
    reg.publish(events.PORT, events.AFTER_CREATE, object(), payload())
    assert calls == ["early", "first", "second", "late"]


def test_callback_receives_resource_event_trigger_payload():
    reg = events.CallbackRegistry()
    got = []
    reg.subscribe(lambda *a: got.append(a), events.NETWORK, events.BEFORE_DELETE)
    trigger, p = object(), payload()
    reg.publish(events.NETWORK, events.BEFORE_DELETE, trigger, p)
    assert got == [(events.NETWORK, events.BEFORE_DELETE, trigger, p)]
    assert p.old == "old" and p.latest == "old"


def test_unknown_resource_or_event_refused():
    reg = events.CallbackRegistry()
    with pytest.raises(exc.InvalidInput):
        reg.subscribe(lambda *a: None, "router", events.AFTER_CREATE)
    with pytest.raises(exc.InvalidInput):
        reg.subscribe(lambda *a: None, events.PORT, "during_create")


def test_unsubscribe_and_has_subscribers():
    reg = events.CallbackRegistry()

    def cb(*a):
        raise AssertionError("unsubscribed callback called")

    reg.subscribe(cb, events.PORT, events.AFTER_DELETE)
    assert reg.has_subscribers(events.PORT, events.AFTER_DELETE)
    reg.unsubscribe(cb, events.PORT, events.AFTER_DELETE)
    assert not reg.has_subscribers(events.PORT, events.AFTER_DELETE)
    reg.publish(events.PORT, events.AFTER_DELETE, None, payload())


def test_veto_wraps_foreign_errors_and_keeps_naas_errors():
    reg = events.CallbackRegistry()

    def boom(*a):
        raise RuntimeError("no way")

    reg.subscribe(boom, events.PORT, events.BEFORE_CREATE)
    with pytest.raises(exc.CallbackFailure, match="no way"):
        reg.publish(events.PORT, events.BEFORE_CREATE, None, payload())

    def typed(*a):
        raise exc.NotAuthorized(action="create a port")

    reg2 = events.CallbackRegistry()
    reg2.subscribe(typed, events.PORT, events.PRECOMMIT_CREATE)
    with pytest.raises(exc.NotAuthorized):
        reg2.publish(events.PORT, events.PRECOMMIT_CREATE, None, payload())


def test_after_failures_are_swallowed_and_later_callbacks_still_run():
    reg = events.CallbackRegistry()
    calls = []

    def boom(*a):
        raise RuntimeError("ignored")

    reg.subscribe(boom, events.NETWORK, events.AFTER_UPDATE)
    reg.subscribe(lambda *a: calls.append(1), events.NETWORK, events.AFTER_UPDATE)
    reg.publish(events.NETWORK, events.AFTER_UPDATE, None, payload())
    assert calls == [1]


def test_registries_are_independent():
    a, b = events.CallbackRegistry(), events.CallbackRegistry()
    a.subscribe(lambda *x: None, events.PORT, events.AFTER_CREATE)
    assert not b.has_subscribers(events.PORT, events.AFTER_CREATE)


def test_service_publishes_lifecycle_events(service, ctx):
    seen = []
    for ev in (events.BEFORE_CREATE, events.PRECOMMIT_CREATE, events.AFTER_CREATE):
        service.events.subscribe(lambda r, e, t, p: seen.append((e, p.session is not None)),
                                 events.NETWORK, ev)
    net = service.create_network(ctx)
    assert seen == [(events.BEFORE_CREATE, False), (events.PRECOMMIT_CREATE, True),
                    (events.AFTER_CREATE, False)]
    assert service.get_network(ctx, net.id).id == net.id


def test_precommit_veto_leaves_nothing(service, ctx, net, db_unchanged):
    def veto(*a):
        raise ValueError("policy says no")

    service.events.subscribe(veto, events.PORT, events.PRECOMMIT_CREATE)
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    with db_unchanged(), pytest.raises(exc.CallbackFailure):
        service.create_port(ctx, network_id=net.id)
    assert service.list_ports(ctx) == []


def test_ports_removed_with_their_network_are_announced(service, ctx, net, subnet):
    ports = [service.create_port(ctx, network_id=net.id) for _ in range(2)]
    gone = []
    service.events.subscribe(lambda r, e, t, p: gone.append(p.old.id), events.PORT,
                             events.AFTER_DELETE)
    service.delete_network(ctx, net.id)
    assert sorted(gone) == sorted(p.id for p in ports)


def test_port_update_and_delete_announce_the_old_port_and_may_veto(service, ctx, net, subnet,
                                                                   db_unchanged):
    """BEFORE_UPDATE/BEFORE_DELETE carry the port as it was; a veto changes nothing.

    The old port is read inside the write transaction (issue 13), so what the
    subscriber sees is what the write started from.
    """
    port = service.create_port(ctx, network_id=net.id, name="old-name")
    seen = []

    def veto(resource, event, trigger, payload):
        seen.append((event, payload.old.name, payload.old.revision_number))
        raise ValueError("policy says no")

    service.events.subscribe(veto, events.PORT, events.BEFORE_UPDATE)
    service.events.subscribe(veto, events.PORT, events.BEFORE_DELETE)
    with db_unchanged():
        with pytest.raises(exc.CallbackFailure):
            service.update_port(ctx, port.id, name="new-name")
        with pytest.raises(exc.CallbackFailure):
            service.delete_port(ctx, port.id)
    assert seen == [(events.BEFORE_UPDATE, "old-name", port.revision_number),
                    (events.BEFORE_DELETE, "old-name", port.revision_number)]
    service.events.unsubscribe(veto, events.PORT, events.BEFORE_UPDATE)
    service.events.unsubscribe(veto, events.PORT, events.BEFORE_DELETE)
    renamed = service.update_port(ctx, port.id, name="new-name")
    assert renamed == service.get_port(ctx, port.id)  # built from the write, equal to a read
    service.delete_port(ctx, port.id)
    assert service.list_ports(ctx) == []
