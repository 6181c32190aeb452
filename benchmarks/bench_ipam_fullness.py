"""Benchmark (b): does an allocation cost more when the subnet is nearly full?

A /16 (65,533 allocatable addresses) is filled to 1% and to 99% before the
measured allocations, in two ways for the full case: by allocation in order
(the pool's high-water mark sits near its end) and fragmented (everything
was allocated once, then 1% released at random, so allocations come from
the free list). Rows are filled in bulk with SQLAlchemy Core into the same
tables the allocator keeps, which is the state allocation itself leaves.

    python -m benchmarks.bench_ipam_fullness
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

import netaddr
import sqlalchemy as sa

from benchmarks import _util
from naas_lib import NetworkService, RequestContext
from naas_lib.db import models
from naas_lib.ipam.addresses import to_key

TARGET_RATIO = 1.2
CIDR = "10.0.0.0/16"


def _fill(svc: NetworkService, net_id: str, sub_id: str, fraction: float,
          fragmented: bool) -> None:
    """Mark ``fraction`` of the pool as allocated, as allocation would have."""
    pool = netaddr.IPNetwork(CIDR)
    first, last = pool.first + 2, pool.last - 1  # after the gateway, before broadcast
    size = last - first + 1
    used = int(size * fraction)
    now = models.utcnow()
    if fragmented:
        values = list(range(first, last + 1))
        freed = set(random.Random(7).sample(values, size - used))
        taken = [v for v in values if v not in freed]
        next_key = None
    else:
        taken = list(range(first, first + used))
        freed = set()
        next_key = to_key(first + used)
    with svc.db.writer() as session:
        conn = session.connection()
        pool_row = conn.execute(sa.select(models.AllocationPool.id).where(
            models.AllocationPool.subnet_id == sub_id)).scalar_one()
        for start in range(0, len(taken), 5000):
            chunk = taken[start:start + 5000]
            ports, allocs, bindings = [], [], []
            for v in chunk:
                pid = str(uuid.uuid4())
                ports.append({
                    "id": pid, "project_id": "bench", "network_id": net_id, "name": "",
                    "description": "", "mac_address": f"fa:16:3e:{v >> 16 & 255:02x}:"
                    f"{v >> 8 & 255:02x}:{v & 255:02x}", "admin_state_up": True,
                    "status": "DOWN", "status_reason": None, "device_id": "",
                    "device_owner": "", "revision_number": 1, "created_at": now,
                    "updated_at": now})
                bindings.append({"port_id": pid, "host": "", "status": "ACTIVE",
                                 "active": True, "vif_type": "unbound", "vif_details": "{}",
                                 "profile": "{}"})
                allocs.append({"subnet_id": sub_id, "ip_address": str(netaddr.IPAddress(v)),
                               "port_id": pid, "network_id": net_id})
            conn.execute(sa.insert(models.Port.__table__), ports)
            conn.execute(sa.insert(models.PortBinding.__table__), bindings)
            conn.execute(sa.insert(models.IpAllocation.__table__), allocs)
        if freed:
            conn.execute(sa.insert(models.IpFree.__table__),
                         [{"pool_id": pool_row, "ip_key": to_key(v)} for v in sorted(freed)])
        conn.execute(sa.update(models.AllocationPool.__table__)
                     .where(models.AllocationPool.id == pool_row).values(next_key=next_key))


def prepare(name: str, fraction: float, fragmented: bool):
    """A service on its own file with one /16 filled to ``fraction``."""
    url = _util.fresh_sqlite(f"ipam_{name}.sqlite")
    svc = NetworkService.from_settings(database_url=url)
    ctx = RequestContext(project_id="bench", user_id="bench")
    net = svc.create_network(ctx, name=name)
    sub = svc.create_subnet(ctx, network_id=net.id, cidr=CIDR)
    _fill(svc, net.id, sub.id, fraction, fragmented)
    for _ in range(20):  # warm up caches and the pool
        svc.create_port(ctx, network_id=net.id)
    return svc, ctx, net.id


def timed(svc: NetworkService, ctx: RequestContext, net_id: str, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        svc.create_port(ctx, network_id=net_id)
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150, help="allocations per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.count * args.rounds > 600:
        parser.error("a 99%-full /16 has 655 free addresses: keep count x rounds <= 600")
    print(f"databases in {_util.BENCH_DIR}; {args.rounds} alternating rounds of "
          f"{args.count} allocations, best round each, {CIDR}")
    cases = {"1pct": prepare("1pct", 0.01, False),
             "99pct": prepare("99pct", 0.99, False),
             "99pct_fragmented": prepare("99pct_fragmented", 0.99, True)}
    best = {name: float("inf") for name in cases}
    for _ in range(args.rounds):
        for name, (svc, ctx, net_id) in cases.items():
            best[name] = min(best[name], timed(svc, ctx, net_id, args.count))
    for svc, _, _ in cases.values():
        svc.close()
    one = best["1pct"]
    _util.report("1% full: create_port", one * 1e6)
    _util.report("99% full (mark near the end): create_port", best["99pct"] * 1e6, one * 1e6,
                 TARGET_RATIO)
    _util.report("99% full (fragmented, free list)", best["99pct_fragmented"] * 1e6,
                 one * 1e6, TARGET_RATIO)


if __name__ == "__main__":
    main()
