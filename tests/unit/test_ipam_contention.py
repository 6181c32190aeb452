"""Which lost races make a network "hot", and what a hot network costs (issue 14 item 2)."""

from __future__ import annotations

import sqlite3
import threading

import netaddr
import pytest
import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import exceptions as exc
from naas_lib.db import models, retry
from naas_lib.ipam import addresses, allocator, contention, ranges
from naas_lib.resources.core import Core
from tests.support.cost import count_cost


def _lost(resource: str) -> db_exc.RetryRequest:
    return db_exc.RetryRequest(exc.ConcurrentModification(resource=resource, resource_id="x"))


def _duplicate(statement: str) -> db_exc.DBDuplicateEntry:
    inner = sa.exc.IntegrityError(statement, {}, Exception("duplicate"))
    return db_exc.DBDuplicateEntry(columns=["x"], inner_exception=inner)


def _certification_failure(statement: str) -> sa.exc.OperationalError:
    orig = type("OperationalError", (Exception,), {"__module__": "pymysql.err"})(
        1213, "Deadlock found when trying to get lock; try restarting transaction")
    return sa.exc.OperationalError(statement, {}, orig)


@pytest.mark.parametrize(("error", "address"), [
    (_lost("Allocation"), True),  # the allocator's compare-and-swap on a lane or free value
    (db_exc.RetryRequest(_duplicate("INSERT INTO ip_allocations (subnet_id) VALUES")), True),
    (_certification_failure("COMMIT"), True),  # Galera: lost certification
    # Galera aborts a local transaction wherever it is when an applier needs its rows.
    (_certification_failure("INSERT INTO port_bindings (port_id) VALUES"), True),
    (db_exc.RetryRequest(_duplicate("INSERT INTO ports (id, mac_address) VALUES")), False),
    (_lost("Port"), False),  # a revision check
    (sa.exc.OperationalError("UPDATE ip_lanes SET", {}, sqlite3.OperationalError("locked")),
     False),
    (ValueError("not a database error"), False),
])
def test_only_address_conflicts_are_contention(error, address):
    assert contention.is_address_conflict(error) is address


def _spread_after(error: Exception | None, hot: contention.Contention, network_id: str):
    """What ``spread`` answers in the attempt that follows ``error`` (None: a first attempt)."""
    attempts: list[int | None] = []

    @retry.retrying(max_retries=1, sleep=lambda _: None)
    def transaction() -> None:
        if error is not None and not attempts:
            attempts.append(None)
            raise error
        pick = hot.spread(network_id)
        attempts.append(None if pick is None else pick.value)

    transaction()
    return attempts[-1]


def test_a_network_is_hot_after_an_address_conflict_only():
    hot = contention.Contention()
    assert _spread_after(None, hot, "n1") is None
    assert _spread_after(db_exc.RetryRequest(_duplicate("INSERT INTO ports (mac_address)")),
                         hot, "n1") is None
    pick = _spread_after(_lost("Allocation"), hot, "n1")
    assert pick is not None
    # Kept by this thread while it wins, on its first attempts too; other networks stay cold.
    assert _spread_after(None, hot, "n1") == pick
    assert _spread_after(None, hot, "n2") is None


def test_threads_of_one_process_pick_apart():
    hot = contention.Contention()
    _spread_after(_lost("Allocation"), hot, "n1")
    picks: list[int | None] = []
    threads = [threading.Thread(target=lambda: picks.append(_spread_after(None, hot, "n1")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert None not in picks
    assert len(set(picks)) == 4  # 30 random bits each


def test_the_hot_spell_ends():
    hot = contention.Contention(hot_seconds=0.0)
    _spread_after(_lost("Allocation"), hot, "n1")
    assert _spread_after(None, hot, "n1") is None


def test_a_generated_mac_that_collided_leaves_the_lowest_address_next(
        service, ctx, net, monkeypatch):
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", enable_dhcp=False)
    first = service.create_port(ctx, network_id=net.id)
    # Two ports in one transaction; the second's generated MAC is the first port's, after
    # the first new port has its address: the whole transaction runs again once.
    macs = [None, first.mac_address]
    real = Core.generate_mac
    monkeypatch.setattr(Core, "generate_mac",
                        lambda self: (macs.pop(0) if macs else None) or real(self))
    pair = service.create_ports(ctx, [{"network_id": net.id}] * 2)
    assert first.mac_address not in {p.mac_address for p in pair}
    later = [service.create_port(ctx, network_id=net.id) for _ in range(3)]
    assert [p.fixed_ips[0].ip_address for p in [first, *pair, *later]] == \
        [f"10.0.0.{i}" for i in range(2, 8)]


def _hot(monkeypatch, network_id: str) -> contention.Contention:
    """A fresh contention state in which ``network_id`` just had an address conflict."""
    hot = contention.Contention()
    monkeypatch.setattr(allocator, "_contention", hot)
    monkeypatch.setattr(retry, "current_conflict", lambda: _lost("Allocation"))
    assert hot.spread(network_id) is not None
    monkeypatch.setattr(retry, "current_conflict", lambda: None)
    return hot


def test_a_hot_network_costs_no_more_statements(make_service, ctx, monkeypatch):
    svc = make_service()
    net = svc.create_network(ctx)
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", enable_dhcp=False)
    svc.create_port(ctx, network_id=net.id)  # lanes made, caches warm
    with count_cost(svc.db.engine) as cold:
        svc.create_port(ctx, network_id=net.id)
    _hot(monkeypatch, net.id)
    svc.create_port(ctx, network_id=net.id)  # moves to a lane of its own (reads the lanes)
    with count_cost(svc.db.engine) as hot:
        port = svc.create_port(ctx, network_id=net.id)
    assert len(hot.statements) == len(cold.statements), (cold, hot)
    assert port.fixed_ips[0].ip_address.startswith("10.0.0.")


def test_a_writer_that_lost_moves_to_a_lane_nobody_is_moving(make_service, ctx, monkeypatch):
    svc = make_service()
    net = svc.create_network(ctx)
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", enable_dhcp=False)
    svc.create_port(ctx, network_id=net.id)  # 10.0.0.2: lanes start at .2, lane j owns .2+j+16k
    # Other writers are busy with lanes 0-7: each has handed out three addresses.
    with svc.db.engine.begin() as conn:
        for lane in range(8):
            conn.execute(sa.update(models.IpLane).where(models.IpLane.lane == lane)
                         .values(next_key=addresses.to_key(int(netaddr.IPAddress(
                             f"10.0.0.{2 + lane + 48}")))))
    for _ in range(3):  # lanes 8-15 stay the least advanced half (at most .42 < .50)
        _hot(monkeypatch, net.id)  # each time a new pick, as after another lost race
        port = svc.create_port(ctx, network_id=net.id)
        last = int(netaddr.IPAddress(port.fixed_ips[0].ip_address)) & 0xff
        assert (last - 2) % 16 >= 8 and last < 50, f"10.0.0.{last} is not from lanes 8-15"


def test_a_lost_lane_is_replaced_inside_the_transaction(make_service, ctx):
    svc = make_service()
    net = svc.create_network(ctx)
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", enable_dhcp=False)
    svc.create_port(ctx, network_id=net.id)  # lanes made
    with svc.db.engine.connect() as conn:
        stale = conn.execute(allocator._NETWORK_POOLS, {"network_id": net.id}).one()
    svc.create_port(ctx, network_id=net.id)  # another writer moves the lowest lane
    taken = {int(netaddr.IPAddress(f"10.0.0.{i}")) for i in (2, 3)}
    moves: list[ranges.Spread] = []

    def on_lost() -> ranges.Spread:
        moves.append(ranges.Spread(7, moving=True))
        return moves[-1]

    with pytest.raises(db_exc.RetryRequest), svc.db.writer() as session:
        allocator._pools.allocate(session, [stale], taken.__contains__)
    with svc.db.writer() as session:
        _, value = allocator._pools.allocate(session, [stale], taken.__contains__,
                                             on_lost=on_lost)
    assert len(moves) == 1 and not moves[0].moving  # settled on the lane it took
    assert value not in taken and value == int(netaddr.IPAddress("10.0.0.2")) + \
        moves[0].value % ranges.LANES


def test_a_new_subnet_has_its_lanes_before_its_first_port(service, ctx, net):
    # Otherwise every writer starting on the subnet at once inserts the same lane rows
    # and all but one run their transaction again.
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                                allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"},
                                                  {"start": "10.0.0.100", "end": "10.0.0.200"}])
    with service.db.engine.connect() as conn:
        lanes = conn.execute(sa.select(models.IpLane.pool_id, sa.func.count())
                             .group_by(models.IpLane.pool_id)).all()
    assert sorted(n for _, n in lanes) == [ranges.LANES, ranges.LANES]
    ports = [service.create_port(ctx, network_id=net.id) for _ in range(3)]
    assert [p.fixed_ips[0].ip_address for p in ports] == ["10.0.0.10", "10.0.0.11", "10.0.0.12"]
    assert all(p.fixed_ips[0].subnet_id == sub.id for p in ports)
