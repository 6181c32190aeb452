"""Benchmark: port update (a rename) and port delete through NetworkService.

``count`` ports with an automatic IPv4 address and a generated MAC on one
network are created (not timed), renamed one call each, then deleted one call
each; compared with ``floor_port_update_delete`` (bare SQLAlchemy Core doing
the same rows, one transaction per port, same SQLite pragmas). ``--backend``
runs both on a server database instead.

    python -m benchmarks.bench_port_update_delete [--count 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks import _util
from benchmarks.floor_port_update_delete import run_floors
from naas_lib import NetworkService, RequestContext
from tests.support import databases

TARGET_RATIO = 3.0


def bench(url: str, count: int) -> tuple[list[float], list[float], float, float]:
    """Latencies in seconds of ``count`` update_port and ``count`` delete_port calls,
    then the CPU seconds per update and per delete."""
    svc = NetworkService.from_settings(database_url=url, vni_ranges=["1:1000"],
                                       create_schema=True)
    try:
        ctx = RequestContext(project_id="bench", user_id="bench")
        net = svc.create_network(ctx, name="bench")
        svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/16")
        ids = []
        for start in range(0, count, 250):
            ids += [p.id for p in svc.create_ports(
                ctx, [{"network_id": net.id}] * min(250, count - start))]
        updates, deletes = [], []
        cpu = time.process_time()
        for port_id in ids:
            t0 = time.perf_counter()
            svc.update_port(ctx, port_id, name="renamed")
            updates.append(time.perf_counter() - t0)
        update_cpu = (time.process_time() - cpu) / count
        cpu = time.process_time()
        for port_id in ids:
            t0 = time.perf_counter()
            svc.delete_port(ctx, port_id)
            deletes.append(time.perf_counter() - t0)
        return updates, deletes, update_cpu, (time.process_time() - cpu) / count
    finally:
        svc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating floor/library rounds; medians are reported")
    parser.add_argument("--backend", choices=databases.BACKENDS, default="sqlite")
    args = parser.parse_args()
    rounds: list[tuple] = []
    for _ in range(args.rounds):
        drops = []
        if args.backend == "sqlite":
            lib_url = _util.fresh_sqlite("bench_update_delete.sqlite")
            floor_url = _util.fresh_sqlite("floor_update_delete.sqlite")
        else:
            lib_url, drop1 = databases.provision(args.backend)
            floor_url, drop2 = databases.provision(args.backend)
            drops = [drop1, drop2]
        try:
            floors = run_floors(floor_url, args.count)
            lib = bench(lib_url, args.count)
        finally:
            for drop in drops:
                drop()
        rounds.append((*floors[:2], *lib[:2], floors[2], floors[3], lib[2], lib[3]))
    print(f"{args.count} ports, {args.rounds} alternating rounds ({args.backend}); "
          "medians of the rounds' means")
    for name, f, lib, fc, lc in (("update_port (name)", 0, 2, 4, 6),
                                 ("delete_port", 1, 3, 5, 7)):
        floor = statistics.median(r[f] for r in rounds)
        mean = statistics.median(statistics.fmean(r[lib]) for r in rounds)
        pct = _util.percentiles([x for r in rounds for x in r[lib]])
        _util.report(f"floor ({args.backend}): {name}, SQLAlchemy Core", floor * 1e6)
        _util.report(f"naas_lib {name} ({args.backend}), mean", mean * 1e6, floor * 1e6,
                     TARGET_RATIO)
        _util.report(f"  CPU per call: floor {statistics.median(r[fc] for r in rounds) * 1e6:.0f}"
                     " us, naas_lib", statistics.median(r[lc] for r in rounds) * 1e6,
                     statistics.median(r[fc] for r in rounds) * 1e6, TARGET_RATIO)
        print("  latency us (all rounds): "
              + ", ".join(f"{k} {v * 1e6:.0f}" for k, v in pct.items()))


if __name__ == "__main__":
    main()
