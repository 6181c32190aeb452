"""A lost address race is known to every process through the pools' ``hot_until`` (issue 14)."""

from __future__ import annotations

import time

import netaddr
import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import RequestContext
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.ipam import allocator, contention, hot, ranges

CTX = RequestContext(project_id="tenant-1", user_id="u1")


def _hot_until(svc) -> list:
    with svc.db.engine.connect() as conn:
        return conn.execute(sa.select(models.AllocationPool.hot_until)).scalars().all()


def test_a_lost_race_makes_the_network_hot_in_every_process(db_service, monkeypatch):
    svc = db_service
    net = svc.create_network(CTX, name="net")
    svc.create_subnet(CTX, network_id=net.id, cidr="10.30.0.0/24", enable_dhcp=False)
    monkeypatch.setattr(allocator, "_contention", contention.Contention())
    first = svc.create_port(CTX, network_id=net.id)  # alone: the lowest address
    assert first.fixed_ips[0].ip_address == "10.30.0.2"
    assert _hot_until(svc) == [None]

    # The next port's first attempt loses its lane to a writer of another node.
    allocate, lost = ranges.RangeAllocator._from_lanes, []

    def lose_once(self, *args, **kwargs):
        if not lost:
            lost.append(1)
            raise db_exc.RetryRequest(exc.ConcurrentModification(resource="Allocation",
                                                                 resource_id="lane 0"))
        return allocate(self, *args, **kwargs)

    monkeypatch.setattr(ranges.RangeAllocator, "_from_lanes", lose_once)
    svc.create_port(CTX, network_id=net.id)
    monkeypatch.setattr(ranges.RangeAllocator, "_from_lanes", allocate)
    assert lost == [1]
    sqlite = svc.db.engine.dialect.name == "sqlite"
    marks = _hot_until(svc)
    if sqlite:  # one writer lock: nothing to spread, nothing recorded
        assert marks == [None]
    else:
        assert len(marks) == 1 and time.time() < marks[0] <= time.time() + \
            contention.HOT_SECONDS + 1

    # Another process (its own memory) learns it from the pool it reads anyway.
    other = contention.Contention()
    monkeypatch.setattr(allocator, "_contention", other)
    port = svc.create_port(CTX, network_id=net.id)
    assert (other.spread(net.id) is not None) is not sqlite
    ips = [f.ip_address for p in svc.list_ports(CTX, network_id=net.id) for f in p.fixed_ips]
    if sqlite:  # not hot there: the lowest address the other two left
        lowest = min(set(netaddr.IPNetwork("10.30.0.0/24")[2:10]) -
                     {netaddr.IPAddress(ip) for ip in ips if ip != port.fixed_ips[0].ip_address})
        assert port.fixed_ips[0].ip_address == str(lowest)
    assert len(ips) == len(set(ips)) == 3
    assert all(netaddr.IPAddress(ip) in netaddr.IPNetwork("10.30.0.0/24") for ip in ips)


def test_a_mark_is_written_once_per_half_hot_period(db_service):
    svc = db_service
    net = svc.create_network(CTX, name="net")
    svc.create_subnet(CTX, network_id=net.id, cidr="10.31.0.0/24", enable_dhcp=False)
    with svc.db.engine.connect() as conn:
        pool_ids = conn.execute(sa.select(models.AllocationPool.id)).scalars().all()
    expected = svc.db.engine.dialect.name != "sqlite"
    assert hot.mark(svc.db.engine, pool_ids, 30.0) is expected
    # Concurrent losers find it marked and write nothing.
    assert hot.mark(svc.db.engine, pool_ids, 30.0) is False
    # The port transactions that follow are not held up by the mark.
    assert svc.create_port(CTX, network_id=net.id).fixed_ips


def test_a_mark_runs_out(db_service, monkeypatch):
    assert hot.remaining(None) == 0.0
    assert hot.remaining(100, now=160.0) == 0.0
    assert hot.remaining(100, now=90.0) == 10.0
    assert contention.Contention().hot_elsewhere("n", 0.0) is None
