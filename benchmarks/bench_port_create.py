"""Benchmark (a): create ports one transaction each through NetworkService.

2,000 ports with an automatic IPv4 address and a generated MAC on one
network, compared with ``floor_port_create`` on the same SQLite settings.
``--url`` runs it on a server database instead (benchmark (c)); the floor
then runs on a second fresh database of the same server.

    python -m benchmarks.bench_port_create            # SQLite file
    python -m benchmarks.bench_port_create --backend postgresql
"""

from __future__ import annotations

import argparse
import time

from benchmarks import _util
from benchmarks.floor_port_create import run_floor
from naas_lib import NetworkService, RequestContext
from tests.support import databases

TARGET_RATIO = 3.0


def bench(url: str, count: int) -> tuple[float, list[float]]:
    svc = NetworkService.from_settings(database_url=url, vni_ranges=["1:1000"],
                                       create_schema=True)
    ctx = RequestContext(project_id="bench", user_id="bench")
    net = svc.create_network(ctx, name="bench")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/16")
    samples = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        svc.create_port(ctx, network_id=net.id)
        samples.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    svc.close()
    return elapsed / count, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--backend", choices=databases.BACKENDS, default="sqlite")
    args = parser.parse_args()
    drops = []
    if args.backend == "sqlite":
        lib_url = _util.fresh_sqlite("bench_ports.sqlite")
        floor_url = _util.fresh_sqlite("floor_ports.sqlite")
    else:
        lib_url, drop1 = databases.provision(args.backend)
        floor_url, drop2 = databases.provision(args.backend)
        drops = [drop1, drop2]
    try:
        print(f"library database: {lib_url}\nfloor database:   {floor_url}")
        floor = run_floor(floor_url, args.count)
        per_port, samples = bench(lib_url, args.count)
    finally:
        for drop in drops:
            drop()
    pct = _util.percentiles(samples)
    _util.report(f"floor ({args.backend}): SQLAlchemy Core inserts", floor * 1e6)
    _util.report(f"naas_lib create_port ({args.backend}), mean", per_port * 1e6, floor * 1e6,
                 TARGET_RATIO)
    print("latency us: " + ", ".join(f"{k} {v * 1e6:.0f}" for k, v in pct.items()))


if __name__ == "__main__":
    main()
