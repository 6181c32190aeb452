"""Boot COUNT instances with two NICs each through the provisioner, as Nova would.

For the noop driver (database only) and, as root, the linuxbridge driver (the
compute host is a throw-away network namespace the driver is pointed at; tap
NICs on two ``local`` networks), on a fresh SQLite file:

* the host's first boot on its own (it starts the networks' DHCP responders
  with linuxbridge), then, with that instance kept, as on a host already
  serving those networks:
* instances/s over the whole run and per-instance latency percentiles of
  ``allocate_for_instance`` (create both ports in one transaction, attach,
  bind, plug, network info);
* teardown: ``deallocate_for_instance`` per instance, its latency and, for
  linuxbridge, its ratio to ``floor_unplug.py`` (the instance's two taps
  removed by bare pyroute2 in one group delete; target 2x);
* the ratio of the mean latency to the floor of one boot: two ports from
  ``floor_port_create.py`` (bare SQLAlchemy inserts) plus, for linuxbridge,
  two taps from ``floor_plug.py`` (bare pyroute2); target 2.5x.

The floors and the boots alternate in ROUNDS rounds (default 3; the machine
is shared, and a floor measured once can be off by a quarter): each round's
ratio is against the floors of that round, and the median of those ratios
is the figure.

    sudo .venv/bin/python benchmarks/bench_boot.py [COUNT [ROUNDS]]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid

from pyroute2 import netns

# This checkout's naas_lib (not an installed one), then the sibling scripts.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _util  # noqa: E402
import floor_plug  # noqa: E402
import floor_port_create  # noqa: E402
import floor_unplug  # noqa: E402

from naas_lib import NetworkService, RequestContext  # noqa: E402
from naas_lib.virt.provisioner import NicRequest, Provisioner  # noqa: E402

CTX = RequestContext(project_id="bench", user_id="nova")
HOST = "bench-host"
BOOT_TARGET, TEARDOWN_TARGET = 2.5, 2.0
ROUNDS = 3


def boot_run(driver: str, count: int, ns: str | None) -> dict[str, object]:
    """Boot and tear down ``count`` two-NIC instances; latencies in seconds."""
    options = {"linuxbridge": {"netns": ns}} if ns else {}
    svc = NetworkService.from_settings(database_url=_util.fresh_sqlite(f"boot_{driver}.sqlite"),
                                       driver=driver, host=HOST,
                                       tenant_network_types=["local"], **options)
    try:
        nets = []
        for i in range(2):
            net = svc.create_network(CTX, name=f"bench-{i}")
            svc.create_subnet(CTX, network_id=net.id, cidr=f"10.{90 + i}.0.0/16")
            nets.append(net)
        prov = Provisioner(svc)
        nics = [NicRequest(network_id=n.id) for n in nets]
        instances = [{"uuid": str(uuid.uuid4()), "name": f"vm{i}", "project_id": "bench"}
                     for i in range(count)]
        # The first instance on the host starts each network's DHCP responder (for
        # linuxbridge, about 0.1 s); it stays while the measured instances boot and go,
        # as on a host already serving those networks, and is reported on its own.
        warm = {"uuid": "warm-up", "project_id": "bench"}
        t0 = time.perf_counter()
        prov.allocate_for_instance(CTX, warm, nics, HOST)
        first = time.perf_counter() - t0
        latencies = []
        cpu = time.process_time()
        start = time.perf_counter()
        for inst in instances:
            t0 = time.perf_counter()
            info = prov.allocate_for_instance(CTX, inst, nics, HOST)
            latencies.append(time.perf_counter() - t0)
            assert len(info) == 2 and all(v["active"] for v in info), info
        boot_s = time.perf_counter() - start
        boot_cpu = (time.process_time() - cpu) / count
        cpu = time.process_time()
        teardowns = []
        start = time.perf_counter()
        for inst in instances:
            t0 = time.perf_counter()
            prov.deallocate_for_instance(CTX, inst)
            teardowns.append(time.perf_counter() - t0)
        teardown_s = time.perf_counter() - start
        teardown_cpu = (time.process_time() - cpu) / count
        prov.deallocate_for_instance(CTX, warm)
        assert svc.list_ports(CTX) == [], "ports left after teardown"
        return {"latencies": latencies, "boot_s": boot_s, "teardown_s": teardown_s,
                "teardowns": teardowns, "boot_cpu": boot_cpu, "teardown_cpu": teardown_cpu,
                "first": first}
    finally:
        svc.close()


def _floors(count: int, root: bool) -> dict[str, float | None]:
    """Seconds: one port (bare SQLAlchemy), one tap and one instance's group delete."""
    return {"port": floor_port_create.run_floor(_util.fresh_sqlite("boot_floor.sqlite"),
                                                2 * count),
            "tap": floor_plug.run(2 * count) if root else None,
            "unplug": floor_unplug.run(count) if root else None}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS
    root = os.geteuid() == 0
    drivers = ["noop"] + (["linuxbridge"] if root else [])
    if not root:
        print("not root: linuxbridge run skipped")
    print(f"boot of {count} instances x 2 NICs (SQLite file, one process), {rounds} rounds: "
          "the floors and each driver's boots alternate, each round's ratio is against "
          "the floors measured in that round")
    per_round: list[tuple[dict[str, float | None], dict[str, dict[str, object]]]] = []
    for _ in range(rounds):
        floors = _floors(count, root)
        runs = {}
        for driver in drivers:
            ns = "naasboot" + uuid.uuid4().hex[:8] if driver == "linuxbridge" else None
            if ns:
                netns.create(ns)
            try:
                runs[driver] = boot_run(driver, count, ns)
            finally:
                if ns:
                    netns.remove(ns)
        per_round.append((floors, runs))
    floors = {k: statistics.median(f[k] for f, _r in per_round) if root or k == "port"
              else None for k in ("port", "tap", "unplug")}
    _util.report("floor: create one port (bare SQLAlchemy), median", floors["port"] * 1e6)
    if root:
        _util.report("floor: make one tap on a bridge (bare pyroute2), median",
                     floors["tap"] * 1e6)
        _util.report("floor: remove 2 taps in one group delete, median", floors["unplug"] * 1e6)
    for driver in drivers:
        boot_floors = [2 * f["port"] + (2 * f["tap"] if driver == "linuxbridge" else 0.0)
                       for f, _r in per_round]
        means = [_util.percentiles(r[driver]["latencies"])["mean"] for _f, r in per_round]
        ratios = [m / b for m, b in zip(means, boot_floors, strict=True)]
        lat = _util.percentiles([x for _f, r in per_round for x in r[driver]["latencies"]])
        print(f"-- {driver}: boot latency mean per round "
              + ", ".join(f"{m * 1e3:.2f} ms = {q:.2f}x" for m, q in zip(means, ratios,
                                                                       strict=True)))
        for key in ("p50", "p90", "p99"):
            _util.report(f"{driver}: boot latency {key} (all rounds)", lat[key] * 1e6)
        ratio = statistics.median(ratios)
        print(f"{driver}: boot, median of the rounds' ratios (floor = 2 ports"
              + (" + 2 taps)" if driver == "linuxbridge" else ")")
              + f"  {ratio:.2f}x (target <= {BOOT_TARGET}x: "
              f"{'met' if ratio <= BOOT_TARGET else 'MISSED'})", flush=True)
        print(f"{driver}: the host's first boot (before the measured ones; it starts the "
              "networks' responders): " + ", ".join(f"{r[driver]['first'] * 1e3:.1f} ms"
                                                   for _f, r in per_round))
        cpu = statistics.median(r[driver]["boot_cpu"] for _f, r in per_round)
        _util.report(f"{driver}: boot CPU per instance (this process), median", cpu * 1e6)
        downs = [_util.percentiles(r[driver]["teardowns"])["mean"] for _f, r in per_round]
        if driver == "linuxbridge":
            down_ratio = statistics.median(
                d / f["unplug"] for d, (f, _r) in zip(downs, per_round, strict=True))
            print(f"{driver}: teardown latency mean per round "
                  + ", ".join(f"{d * 1e3:.2f} ms" for d in downs)
                  + f"; median of the rounds' ratios to 1 group delete {down_ratio:.2f}x "
                  f"(target <= {TEARDOWN_TARGET}x: "
                  f"{'met' if down_ratio <= TEARDOWN_TARGET else 'MISSED'})", flush=True)
        else:
            _util.report(f"{driver}: teardown latency mean, median of rounds",
                         statistics.median(downs) * 1e6)


if __name__ == "__main__":
    main()
