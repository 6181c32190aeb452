"""Database side of IPAM: give a port addresses from its network's subnets.

Uniqueness is the primary key of ``ip_allocations`` (subnet, address); the
pools' high-water marks and free lists only find a candidate in constant
time. Nothing here reads a row ``FOR UPDATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib import validation
from naas_lib.db import models, retry
from naas_lib.ipam import addresses, contention, hot
from naas_lib.ipam.ranges import RangeAllocator, Spread

_pools = RangeAllocator(models.AllocationPool.__table__, models.IpFree.__table__,
                        "pool_id", "ip_key", models.IpLane.__table__)
_alloc = models.IpAllocation.__table__
_S, _P = models.Subnet.__table__, models.AllocationPool.__table__

# Every subnet of a network with its pools, their lowest lane mark and lowest
# free address, in one round trip: the whole input of an automatic allocation.
_POOL_COLUMNS = (_S.c.id.label("subnet_id"), _S.c.cidr, _S.c.ip_version, _S.c.gateway_ip,
                 _P.c.id, _P.c.first_key, _P.c.last_key, _P.c.next_key, _P.c.hot_until,
                 _pools.first_free_of(_P.c.id).label("free_key"))


def _network_pools(*columns: Any, many: bool = False) -> sa.Select:
    where = (_S.c.network_id.in_(sa.bindparam("network_ids", expanding=True)) if many
             else _S.c.network_id == sa.bindparam("network_id"))
    return (sa.select(*_POOL_COLUMNS, *columns)
            .select_from(_S).outerjoin(_P, _P.c.subnet_id == _S.c.id)
            .where(where)
            .order_by(_S.c.created_at, _S.c.id, _P.c.first_key))


_NETWORK_POOLS = _network_pools(_pools.lowest_lane_of(_P.c.id).label("lane_key"))
# Several networks' (a boot's NICs), each row naming its network.
_NETWORKS_POOLS = _network_pools(_pools.lowest_lane_of(_P.c.id).label("lane_key"),
                                 _S.c.network_id, many=True)
# Contended: the lane and the free value this writer's pick points to instead
# of the lowest, so a hot network costs no more round trips than a quiet one.
_NETWORK_POOLS_PICKED = _network_pools(_pools.picked_lane_of(_P.c.id).label("lane_pick"),
                                       _pools.picked_free_of(_P.c.id).label("free_pick"))
_SUBNET_POOLS = (sa.select(_P.c.id, _P.c.first_key, _P.c.last_key, _P.c.next_key)
                 .where(_P.c.subnet_id == sa.bindparam("subnet_id"))
                 .order_by(_P.c.first_key))
_INSERT_ALLOCATION = sa.insert(_alloc)
_HELD = sa.select(_alloc.c.subnet_id, _alloc.c.ip_address).where(
    _alloc.c.subnet_id.in_(sa.bindparam("subnets", expanding=True)),
    _alloc.c.ip_address.in_(sa.bindparam("ips", expanding=True)))
_IS_TAKEN = sa.select(_alloc.c.port_id).where(_alloc.c.subnet_id == sa.bindparam("s"),
                                              _alloc.c.ip_address == sa.bindparam("ip"))
_PORT_ADDRESSES = (sa.select(_alloc.c.subnet_id, _alloc.c.ip_address)
                   .where(_alloc.c.port_id == sa.bindparam("port_id")))
_DELETE_ADDRESS = sa.delete(_alloc).where(_alloc.c.subnet_id == sa.bindparam("s"),
                                          _alloc.c.ip_address == sa.bindparam("ip"))


_contention = contention.Contention()


class _Subnet:
    """A subnet of the network being allocated from, with its pool rows."""

    __slots__ = ("id", "cidr", "ip_version", "gateway_ip", "pools")

    def __init__(self, row: Any) -> None:
        self.id, self.cidr = row.subnet_id, row.cidr
        self.ip_version, self.gateway_ip = row.ip_version, row.gateway_ip
        self.pools: list[Any] = []


def _subnets(session: orm.Session, network_id: str, spread: Spread | None) -> list[_Subnet]:
    subnets: dict[str, _Subnet] = {}
    if spread is None:
        rows = session.connection().execute(_NETWORK_POOLS, {"network_id": network_id})
    else:
        rows = session.connection().execute(_NETWORK_POOLS_PICKED,
                                            {"network_id": network_id, **_pools.picks(spread)})
    for row in rows:
        _add_pool_row(subnets, row)
    return list(subnets.values())


def _add_pool_row(subnets: dict[str, _Subnet], row: Any) -> None:
    """File a row of a pools read under its subnet (a subnet without pools has one row)."""
    sub = subnets.get(row.subnet_id)
    if sub is None:
        sub = subnets[row.subnet_id] = _Subnet(row)
    if row.id is not None:
        sub.pools.append(row)


def _pool_rows(session: orm.Session, subnet_id: str) -> list[Any]:
    return list(session.connection().execute(_SUBNET_POOLS, {"subnet_id": subnet_id}))


def _taken(session: orm.Session, subnet_id: str, version: int):
    conn = session.connection()

    def is_taken(value: int) -> bool:
        ip = str(netaddr.IPAddress(value, version))
        return conn.execute(_IS_TAKEN, {"s": subnet_id, "ip": ip}).first() is not None
    return is_taken


def make_lanes(session: orm.Session, subnet_id: str) -> None:
    """Make the lanes of a new subnet's pools in the transaction that creates it."""
    for pool in _pool_rows(session, subnet_id):
        _pools.make_lanes(session, pool)


def parse_request(fixed_ips: Any) -> list[dict[str, Any]]:
    """Validate the shape of a ``fixed_ips`` request: [{subnet_id?, ip_address?}]."""
    if not isinstance(fixed_ips, (list, tuple)):
        raise exc.InvalidInput(field="fixed_ips", reason="must be a list")
    out = []
    for item in fixed_ips:
        if not isinstance(item, Mapping) or not item or \
                set(item) - {"subnet_id", "ip_address"}:
            raise exc.InvalidInput(field="fixed_ips",
                                   reason="each entry is {'subnet_id'?, 'ip_address'?}")
        entry: dict[str, Any] = {}
        if "subnet_id" in item:
            entry["subnet_id"] = validation.uuid_str("fixed_ips.subnet_id", item["subnet_id"])
        if "ip_address" in item:
            entry["ip_address"] = validation.ip_address("fixed_ips.ip_address",
                                                        item["ip_address"])
        out.append(entry)
    return out


def allocate(session: orm.Session, port_id: str, network_id: str,
             request: Sequence[Mapping[str, Any]] | None, insert: bool = True
             ) -> list[tuple[str, str]]:
    """Allocate the port's addresses and insert them; returns [(subnet id, ip)].

    With no request: one address of each IP version, from the first subnet of
    that version that has room. Otherwise each entry names a subnet, an
    address, or both. ``insert`` False leaves the insert to the caller
    (:func:`insert_allocations`, one statement for several ports), in the
    same transaction.
    """
    spread = _contention.spread(network_id)
    subnets = _subnets(session, network_id, spread)
    pools = [p for s in subnets for p in s.pools]
    marked = max((hot.remaining(p.hot_until) for p in pools), default=0.0)
    if spread is None:  # not hot here, maybe in another process
        spread = _contention.hot_elsewhere(network_id, marked)
    _mark(session, network_id, pools, marked)
    by_id = {s.id: s for s in subnets}
    chosen: list[tuple[str, str]] = []
    if request is None:
        for version in (4, 6):
            candidates = [s for s in subnets if s.ip_version == version]
            if not candidates:
                continue
            for sub in candidates:
                ip = _auto(session, sub, network_id, spread)
                if ip is not None:
                    chosen.append((sub.id, ip))
                    break
            else:
                raise exc.IpAddressGenerationFailure(net_id=network_id)
    else:
        for entry in request:
            sub = _subnet_for(entry, subnets, by_id, network_id)
            if "ip_address" in entry:
                ip = _specific(session, sub, entry["ip_address"])
            else:
                ip = _auto(session, sub, network_id, spread)
                if ip is None:
                    raise exc.IpAddressGenerationFailure(net_id=network_id)
            if any(s == sub.id and i == ip for s, i in chosen):
                raise exc.InvalidInput(field="fixed_ips", reason=f"{ip} is requested twice")
            chosen.append((sub.id, ip))
    if insert:
        insert_allocations(session, [(port_id, network_id, chosen)])
    return chosen


def allocate_each(session: orm.Session, items: Sequence[tuple[str, str]]
                  ) -> dict[str, list[tuple[str, str]]]:
    """Automatic addresses for ports on networks of their own (a boot's NIC); not inserted.

    ``items`` are (port id, network id), each network once. Each port gets
    what :func:`allocate` with no request gives it, in a constant number of
    statements for all of them: one read of every network's pools, the
    values taken by :meth:`~naas_lib.ipam.ranges.RangeAllocator.take_prefetched`,
    one check that no candidate is held already. A network this process
    knows to be contended, a pool whose prefetch cannot say, or a held
    candidate goes the way of :func:`allocate`, for that network or that
    address only. Returns [(subnet id, ip)] by port id; the caller inserts
    them (:func:`insert_allocations`).
    """
    if not items:
        return {}
    network_ids = [n for _p, n in items]
    if len(items) < 2 or len(set(network_ids)) != len(network_ids) or any(
            _contention.spread(n) is not None for n in network_ids):
        return {p: allocate(session, p, n, None, insert=False) for p, n in items}
    by_network: dict[str, dict[str, _Subnet]] = {n: {} for n in network_ids}
    for row in session.connection().execute(_NETWORKS_POOLS, {"network_ids": network_ids}):
        _add_pool_row(by_network[row.network_id], row)
    slow: list[tuple[str, str]] = []
    picked: list[tuple[str, str, list[_Subnet], Any]] = []  # port, network, subnets, pool
    for port_id, network_id in items:
        subnets = list(by_network[network_id].values())
        pools = [p for s in subnets for p in s.pools]
        marked = max((hot.remaining(p.hot_until) for p in pools), default=0.0)
        firsts = [_first_open(s for s in subnets if s.ip_version == v) for v in (4, 6)]
        if marked > 0 or any(f is False for f in firsts):
            slow.append((port_id, network_id))
            continue
        _mark(session, network_id, pools, marked)
        for version, first in zip((4, 6), firsts, strict=True):
            if first is not None:
                picked.append((port_id, network_id,
                               [s for s in subnets if s.ip_version == version], first))
    values = _pools.take_prefetched(session.connection(), [pool for *_x, pool in picked])
    chosen: dict[str, list[tuple[str, str]]] = {p: [] for p, n in items if (p, n) not in slow}
    candidates = [(port_id, network_id, subnets, None if value is None else
                   str(netaddr.IPAddress(value, subnets[0].ip_version)))
                  for (port_id, network_id, subnets, _pool), value in zip(picked, values,
                                                                          strict=True)]
    ips = sorted({ip for *_x, ip in candidates if ip is not None})
    held = set(session.connection().execute(_HELD, {
        "subnets": sorted({pool.subnet_id for *_x, pool in picked}),
        "ips": ips}).all()) if ips else set()
    for (port_id, network_id, subnets, ip), (*_x, pool) in zip(candidates, picked,
                                                                strict=True):
        if ip is not None and (pool.subnet_id, ip) not in held:
            chosen[port_id].append((pool.subnet_id, ip))
            continue
        # Requested explicitly ahead of the mark (or a stale free row): skipped, as
        # allocate() skips it, and the rest of the version's subnets tried from here
        # (also where the prefetch named no value after all).
        start = next(i for i, s in enumerate(subnets) if s.id == pool.subnet_id)
        for sub in subnets[start:]:
            sub.pools = []  # the prefetch is stale now: read the pools again
            found = _auto(session, sub, network_id, None)
            if found is not None:
                chosen[port_id].append((sub.id, found))
                break
        else:
            raise exc.IpAddressGenerationFailure(net_id=network_id)
    for port_id, network_id in slow:
        chosen[port_id] = allocate(session, port_id, network_id, None, insert=False)
    return chosen


def _first_open(subnets: Iterable[_Subnet]) -> Any:
    """The pool a writer alone takes from among ``subnets`` (one IP version, in order):
    None when there are none, False when the prefetch cannot say (a pool with no
    released value and no open lane known: used up, or its lanes not made yet)."""
    for sub in subnets:
        for pool in sub.pools:
            if pool.free_key is None and pool.lane_key is None:
                return False
            return pool
        return False  # a subnet without pools: allocate() decides
    return None


def insert_allocations(session: orm.Session,
                       items: Sequence[tuple[str, str, Sequence[tuple[str, str]]]]) -> None:
    """Insert allocated addresses: (port id, network id, [(subnet id, ip)]) of each port."""
    rows = [{"subnet_id": s, "ip_address": ip, "port_id": port_id, "network_id": network_id}
            for port_id, network_id, chosen in items for s, ip in chosen]
    if rows:
        session.connection().execute(_INSERT_ALLOCATION, rows)


def _subnet_for(entry: Mapping[str, Any], subnets, by_id, network_id: str):
    if "subnet_id" in entry:
        sub = by_id.get(entry["subnet_id"])
        if sub is None:
            raise exc.InvalidInput(field="fixed_ips",
                                   reason=f"subnet {entry['subnet_id']} is not on network "
                                          f"{network_id}")
        return sub
    addr = entry["ip_address"]
    for sub in subnets:
        if addr in netaddr.IPNetwork(sub.cidr):
            return sub
    raise exc.InvalidInput(field="fixed_ips",
                           reason=f"{addr} is in no subnet of network {network_id}")


def _mark(session: orm.Session, network_id: str, pools: Sequence[Any], marked: float) -> None:
    """Should this attempt lose an address race: record it on the network's pools for all."""
    engine = session.connection().engine
    if not pools or engine.dialect.name == "sqlite":  # one writer lock: nothing to spread
        return
    ids = [p.id for p in pools]

    def after_conflict(error: BaseException) -> None:
        if _contention.to_mark(error, marked):
            hot.mark(engine, ids, _contention.hot_seconds)

    retry.on_conflict(after_conflict, key=("hot pools", network_id))


def _auto(session: orm.Session, sub: _Subnet, network_id: str,
          spread: Spread | None) -> str | None:
    # The prefetched pool rows are valid once: a second allocation from the
    # same subnet in this transaction must see the moved mark.
    pools, sub.pools = sub.pools or _pool_rows(session, sub.id), []
    found = _pools.allocate(session, pools, _taken(session, sub.id, sub.ip_version), spread,
                            on_lost=lambda: _contention.lost(network_id))
    if found is None:
        return None
    return str(netaddr.IPAddress(found[1], sub.ip_version))


def _specific(session: orm.Session, sub: Any, addr: netaddr.IPAddress) -> str:
    net = netaddr.IPNetwork(sub.cidr)
    addresses.check_fixed_ip(net, addr, sub.gateway_ip, sub.id)
    ip = str(addr)
    if _taken(session, sub.id, sub.ip_version)(int(addr)):
        raise exc.IpAddressInUse(ip_address=ip, subnet_id=sub.id)
    pool_id = addresses.pool_containing(
        ((p.id, addresses.from_key(p.first_key), addresses.from_key(p.last_key))
         for p in _pool_rows(session, sub.id)), int(addr))
    if pool_id is not None:
        _pools.claim(session, pool_id, int(addr))
    return ip


def release(session: orm.Session, port_id: str,
            keep: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Return a port's addresses (except ``keep``) to their pools; returns those freed."""
    conn = session.connection()
    keep_set = set(keep)
    freed = []
    for subnet_id, ip in conn.execute(_PORT_ADDRESSES, {"port_id": port_id}).all():
        if (subnet_id, ip) in keep_set:
            continue
        value = int(netaddr.IPAddress(ip))
        pool_id = addresses.pool_containing(
            ((p.id, addresses.from_key(p.first_key), addresses.from_key(p.last_key))
             for p in _pool_rows(session, subnet_id)), value)
        conn.execute(_DELETE_ADDRESS, {"s": subnet_id, "ip": ip})
        if pool_id is not None:
            _pools.release(session, pool_id, value)
        freed.append((subnet_id, ip))
    return freed
