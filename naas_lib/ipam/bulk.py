"""Automatic addresses for many new ports of one network at once (a boot storm's batch).

The same choice as :func:`naas_lib.ipam.allocator.allocate` makes port by
port, with a constant number of statements per pool instead of several per
port: for each IP version, the first subnet with room, released addresses
first (lowest first), then the pool's lanes merged in ascending order, so a
single writer still gets the lowest free addresses and a freed address is
reused next. Each lane's mark moves once, by a compare-and-swap ``UPDATE``;
a lost race (a mark moved, a free row gone) retries the whole transaction
(oslo.db ``RetryRequest``), and the primary key of ``ip_allocations``
remains the final judge of uniqueness. Candidates held already (requested
explicitly above a mark, or stale free rows) are skipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import netaddr
import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.ipam import allocator
from naas_lib.ipam.addresses import from_key, to_key
from naas_lib.ipam.ranges import LANES

_S, _P = models.Subnet.__table__, models.AllocationPool.__table__
_F, _L = models.IpFree.__table__, models.IpLane.__table__
_A = models.IpAllocation.__table__

_POOLS = (sa.select(_S.c.id.label("subnet_id"), _S.c.ip_version, _P.c.id, _P.c.last_key,
                    _P.c.next_key)
          .select_from(_S).outerjoin(_P, _P.c.subnet_id == _S.c.id)
          .where(_S.c.network_id == sa.bindparam("network_id"))
          .order_by(_S.c.created_at, _S.c.id, _P.c.first_key))
_LOWEST_FREE = (sa.select(_F.c.ip_key).where(_F.c.pool_id == sa.bindparam("r"))
                .order_by(_F.c.ip_key).limit(sa.bindparam("n")))
_TAKE_FREE = sa.delete(_F).where(_F.c.pool_id == sa.bindparam("r"),
                                 _F.c.ip_key.in_(sa.bindparam("keys", expanding=True)))
_LANES = sa.select(_L.c.lane, _L.c.next_key).where(_L.c.pool_id == sa.bindparam("r"))
_MOVE_MARK = (sa.update(_L).where(_L.c.pool_id == sa.bindparam("r"),
                                  _L.c.lane == sa.bindparam("j"),
                                  _L.c.next_key == sa.bindparam("old"))
              .values(next_key=sa.bindparam("new")))
_HELD = sa.select(_A.c.ip_address).where(
    _A.c.subnet_id == sa.bindparam("s"), _A.c.ip_address.in_(sa.bindparam("ips", expanding=True)))


def _lost_race(what: str) -> db_exc.RetryRequest:
    return db_exc.RetryRequest(exc.ConcurrentModification(resource="Allocation",
                                                          resource_id=what))


def _from_free(conn: sa.Connection, pool_id: int, n: int) -> list[int]:
    """Up to ``n`` of the pool's lowest released values, taken off its free list."""
    keys = conn.execute(_LOWEST_FREE, {"r": pool_id, "n": n}).scalars().all()
    if keys and conn.execute(_TAKE_FREE, {"r": pool_id, "keys": keys}).rowcount != len(keys):
        raise _lost_race(f"free values of range {pool_id}")
    return [from_key(k) for k in keys]


def _open_lanes(conn: sa.Connection, pool: Any) -> list[tuple[int, int]]:
    """The pool's open lanes as (next value, lane); made on first use as the allocator does."""
    rows = conn.execute(_LANES, {"r": pool.id}).all()
    if not rows:
        if pool.next_key is None:
            return []
        base, last = from_key(pool.next_key), from_key(pool.last_key)
        rows = [(j, to_key(base + j) if base + j <= last else None) for j in range(LANES)]
        try:
            conn.execute(sa.insert(_L), [{"pool_id": pool.id, "lane": j, "next_key": k}
                                         for j, k in rows])
        except db_exc.DBDuplicateEntry as e:  # another first writer made them
            raise _lost_race(f"lanes of range {pool.id}") from e
    return [(from_key(k), j) for j, k in rows if k is not None]


def _from_lanes(conn: sa.Connection, pool: Any, n: int) -> list[int]:
    """Up to ``n`` values never handed out, lowest first; each touched lane's mark moves once."""
    heap = _open_lanes(conn, pool)
    heapq.heapify(heap)
    last = from_key(pool.last_key)
    taken: list[int] = []
    moved: dict[int, tuple[int, int | None]] = {}  # lane -> (old value, new value)
    while heap and len(taken) < n:
        value, lane = heapq.heappop(heap)
        taken.append(value)
        new = value + LANES if value + LANES <= last else None
        moved[lane] = (moved.get(lane, (value, None))[0], new)
        if new is not None:
            heapq.heappush(heap, (new, lane))
    for lane, (old, new) in moved.items():
        if conn.execute(_MOVE_MARK, {"r": pool.id, "j": lane, "old": to_key(old),
                                     "new": None if new is None else to_key(new)}
                        ).rowcount != 1:
            raise _lost_race(f"lane {lane} of range {pool.id}")
    return taken


def _from_pool(conn: sa.Connection, subnet_id: str, version: int, pool: Any,
               n: int) -> list[str]:
    """Up to ``n`` free addresses of one pool, as strings, none held already."""
    got: list[str] = []
    while len(got) < n:
        want = n - len(got)
        values = _from_free(conn, pool.id, want)
        if len(values) < want:
            values += _from_lanes(conn, pool, want - len(values))
        if not values:
            break
        ips = [str(netaddr.IPAddress(v, version)) for v in values]
        held = set(conn.execute(_HELD, {"s": subnet_id, "ips": ips}).scalars())
        got += [ip for ip in ips if ip not in held]
        if not held:
            break  # every candidate was free; a shortfall means the pool is used up
    return got


def allocate_many(session: orm.Session, network_id: str, port_ids: Sequence[str],
                  insert: bool = True) -> dict[str, list[tuple[str, str]]]:
    """One automatic address of each IP version for every port; inserted; by port id.

    IpAddressGenerationFailure when the network's subnets of a version have
    fewer free addresses than ports (nothing is kept: the caller's
    transaction rolls back). ``insert`` False leaves the insert to the caller
    (``allocator.insert_allocations``).
    """
    conn = session.connection()
    subnets: dict[str, tuple[int, list[Any]]] = {}
    for row in conn.execute(_POOLS, {"network_id": network_id}):
        pools = subnets.setdefault(row.subnet_id, (row.ip_version, []))[1]
        if row.id is not None:
            pools.append(row)
    chosen: dict[str, list[tuple[str, str]]] = {p: [] for p in port_ids}
    for version in (4, 6):
        candidates = [(sid, pools) for sid, (v, pools) in subnets.items() if v == version]
        if not candidates or not port_ids:
            continue
        got: list[tuple[str, str]] = []
        for subnet_id, pools in candidates:
            for pool in pools:
                got += [(subnet_id, ip) for ip in _from_pool(
                    conn, subnet_id, version, pool, len(port_ids) - len(got))]
                if len(got) == len(port_ids):
                    break
            if len(got) == len(port_ids):
                break
        if len(got) < len(port_ids):
            raise exc.IpAddressGenerationFailure(net_id=network_id)
        for port_id, address in zip(port_ids, got, strict=True):
            chosen[port_id].append(address)
    if insert:
        allocator.insert_allocations(session, [(p, network_id, addresses)
                                               for p, addresses in chosen.items()])
    return chosen
