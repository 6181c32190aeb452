"""Events as higher-layer services see them through a real service.

Vetoes in every phase and for every resource leave the database exactly as it
was; AFTER failures never reach the caller; callbacks run in priority order.
"""

from __future__ import annotations

import logging

import pytest
from oslo_db import exception as db_exc

from naas_lib import events
from naas_lib import exceptions as exc


class Veto(exc.Conflict):
    msg_fmt = "vetoed by %(who)s"


def _veto(who: str):
    def callback(resource, event, trigger, payload):
        raise Veto(who=who)
    return callback


def _boom(resource, event, trigger, payload):
    raise RuntimeError("subscriber crashed")


@pytest.fixture
def port(service, ctx, net, subnet):
    return service.create_port(ctx, network_id=net.id)


# Each case: (resource, operation name, callable doing it).
OPERATIONS = {
    "network-create": (events.NETWORK, "create",
                       lambda s, c, net, sub, port: s.create_network(c, name="x")),
    "network-update": (events.NETWORK, "update",
                       lambda s, c, net, sub, port: s.update_network(c, net.id, name="y")),
    "network-delete": (events.NETWORK, "delete",
                       lambda s, c, net, sub, port: s.delete_network(c, net.id)),
    "subnet-create": (events.SUBNET, "create",
                      lambda s, c, net, sub, port: s.create_subnet(
                          c, network_id=net.id, cidr="10.9.0.0/24")),
    "subnet-update": (events.SUBNET, "update",
                      lambda s, c, net, sub, port: s.update_subnet(c, sub.id, name="y")),
    "port-create": (events.PORT, "create",
                    lambda s, c, net, sub, port: s.create_port(c, network_id=net.id)),
    "port-update": (events.PORT, "update",
                    lambda s, c, net, sub, port: s.update_port(c, port.id, name="y")),
    "port-delete": (events.PORT, "delete",
                    lambda s, c, net, sub, port: s.delete_port(c, port.id)),
    "attach": (events.ATTACHMENT, "create",
               lambda s, c, net, sub, port: s.attach_port(c, port.id, "vif-1")),
}


@pytest.mark.parametrize("phase", ["before", "precommit"])
@pytest.mark.parametrize("case", sorted(OPERATIONS))
def test_veto_fails_with_the_subscribers_error_and_writes_nothing(
        service, ctx, net, subnet, port, db_unchanged, case, phase):
    resource, operation, run = OPERATIONS[case]
    service.events.subscribe(_veto(f"{phase}-{case}"), resource, f"{phase}_{operation}")
    after = []
    service.events.subscribe(lambda *a: after.append(a), resource, f"after_{operation}")
    with db_unchanged(), pytest.raises(Veto, match=f"vetoed by {phase}-{case}"):
        run(service, ctx, net, subnet, port)
    assert after == [], "AFTER must not run for a vetoed operation"


def test_vetoed_detach_keeps_the_attachment(service, ctx, port, db_unchanged):
    service.attach_port(ctx, port.id, "vif-1")
    service.events.subscribe(_boom, events.ATTACHMENT, events.PRECOMMIT_DELETE)
    with db_unchanged(), pytest.raises(exc.CallbackFailure, match="subscriber crashed"):
        service.detach_port(ctx, port.id)
    assert service.get_attachment(ctx, port.id).interface_id == "vif-1"


def test_foreign_error_in_before_is_wrapped_with_resource_and_event(service, ctx, db_unchanged):
    service.events.subscribe(_boom, events.NETWORK, events.BEFORE_CREATE)
    with db_unchanged(), pytest.raises(exc.CallbackFailure) as info:
        service.create_network(ctx, name="x")
    assert info.value.kind == "conflict"
    assert "before_create" in info.value.message and "network" in info.value.message


def test_after_failure_is_logged_and_the_operation_succeeds(service, ctx, caplog):
    later = []
    service.events.subscribe(_boom, events.NETWORK, events.AFTER_CREATE, priority=1)
    service.events.subscribe(lambda r, e, t, p: later.append(p.latest.id),
                             events.NETWORK, events.AFTER_CREATE, priority=2)
    with caplog.at_level(logging.ERROR, logger="naas_lib.events"):
        net = service.create_network(ctx, name="kept")
    assert service.get_network(ctx, net.id).name == "kept"
    assert later == [net.id]
    assert any("failed" in r.getMessage() for r in caplog.records)


def test_callbacks_run_by_priority_then_subscription_order(service, ctx):
    order = []
    for name, prio in (("late", 50), ("first", 1), ("second-a", 10), ("second-b", 10)):
        service.events.subscribe(lambda r, e, t, p, n=name: order.append(n),
                                 events.NETWORK, events.BEFORE_CREATE, priority=prio)
    service.create_network(ctx)
    assert order == ["first", "second-a", "second-b", "late"]


def test_subscribing_twice_calls_once_at_the_new_priority(service, ctx):
    order = []

    def a(*_):
        order.append("a")

    service.events.subscribe(a, events.NETWORK, events.AFTER_CREATE, priority=1)
    service.events.subscribe(lambda *_: order.append("b"), events.NETWORK,
                             events.AFTER_CREATE, priority=5)
    service.events.subscribe(a, events.NETWORK, events.AFTER_CREATE, priority=9)
    service.create_network(ctx)
    assert order == ["b", "a"]


def test_payload_states_session_and_request(service, ctx, net):
    seen = {}

    def record(resource, event, trigger, payload):
        seen[event] = payload
        assert trigger is service

    for ev in (events.BEFORE_UPDATE, events.PRECOMMIT_UPDATE, events.AFTER_UPDATE):
        service.events.subscribe(record, events.NETWORK, ev)
    service.update_network(ctx, net.id, name="renamed")
    assert seen[events.BEFORE_UPDATE].old.name == "net"
    assert seen[events.BEFORE_UPDATE].request == {"name": "renamed"}
    assert seen[events.PRECOMMIT_UPDATE].session is not None
    assert seen[events.AFTER_UPDATE].session is None
    old, new = seen[events.AFTER_UPDATE].states
    assert (old.name, new.name) == ("net", "renamed")
    assert new.revision_number == old.revision_number + 1


def test_precommit_retry_request_reruns_the_transaction(service, ctx):
    calls = []

    def flaky(resource, event, trigger, payload):
        calls.append(payload.resource_id)
        if len(calls) == 1:
            raise db_exc.RetryRequest(exc.ConcurrentModification(
                resource="network", resource_id=payload.resource_id))

    service.events.subscribe(flaky, events.NETWORK, events.PRECOMMIT_CREATE)
    net = service.create_network(ctx, name="retried")
    assert len(calls) == 2
    assert [n.id for n in service.list_networks(ctx)] == [net.id]
