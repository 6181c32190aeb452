"""Boot COUNT instances with two NICs each through the provisioner, as Nova would.

For the noop driver (database only) and, as root, the linuxbridge driver (the
compute host is a throw-away network namespace the driver is pointed at; tap
NICs on two ``local`` networks), on a fresh SQLite file:

* instances/s over the whole run and per-instance latency percentiles of
  ``allocate_for_instance`` (create both ports in one transaction, attach,
  bind, plug, network info);
* teardown: ``deallocate_for_instance`` per instance, its latency and, for
  linuxbridge, its ratio to ``floor_unplug.py`` (the instance's two taps
  removed by bare pyroute2 in one group delete; target 2x);
* the ratio of the mean latency to the floor of one boot: two ports from
  ``floor_port_create.py`` (bare SQLAlchemy inserts) plus, for linuxbridge,
  two taps from ``floor_plug.py`` (bare pyroute2); target 2.5x.

    sudo .venv/bin/python benchmarks/bench_boot.py [COUNT]
"""

from __future__ import annotations

import os
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
        prov.allocate_for_instance(CTX, {"uuid": "warm-up", "project_id": "bench"}, nics, HOST)
        prov.deallocate_for_instance(CTX, {"uuid": "warm-up", "project_id": "bench"})
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
        assert svc.list_ports(CTX) == [], "ports left after teardown"
        return {"latencies": latencies, "boot_s": boot_s, "teardown_s": teardown_s,
                "teardowns": teardowns, "boot_cpu": boot_cpu, "teardown_cpu": teardown_cpu}
    finally:
        svc.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    port_floor = floor_port_create.run_floor(_util.fresh_sqlite("boot_floor.sqlite"),
                                             2 * count)
    root = os.geteuid() == 0
    plug_floor = floor_plug.run(2 * count) if root else None
    unplug_floor = floor_unplug.run(count) if root else None
    print(f"boot of {count} instances x 2 NICs (SQLite file, one process)")
    _util.report("floor: create one port (bare SQLAlchemy)", port_floor * 1e6)
    if plug_floor is not None:
        _util.report("floor: make one tap on a bridge (bare pyroute2)", plug_floor * 1e6)
        _util.report("floor: remove 2 taps in one group delete", unplug_floor * 1e6)
    runs = [("noop", None)]
    if root:
        runs.append(("linuxbridge", "naasboot" + uuid.uuid4().hex[:8]))
    else:
        print("not root: linuxbridge run skipped")
    for driver, ns in runs:
        if ns:
            netns.create(ns)
        try:
            r = boot_run(driver, count, ns)
        finally:
            if ns:
                netns.remove(ns)
        lat = _util.percentiles(r["latencies"])
        floor = 2 * port_floor + (2 * plug_floor if driver == "linuxbridge" else 0.0)
        print(f"-- {driver}: {count / r['boot_s']:.1f} instances/s, "
              f"teardown {r['teardown_s'] / count * 1e3:.2f} ms/instance")
        for key in ("p50", "p90", "p99"):
            _util.report(f"{driver}: boot latency {key}", lat[key] * 1e6)
        _util.report(f"{driver}: boot latency mean (floor = 2 ports"
                     + (" + 2 taps)" if driver == "linuxbridge" else ")"),
                     lat["mean"] * 1e6, floor * 1e6, BOOT_TARGET)
        _util.report(f"{driver}: boot CPU per instance (this process)", r["boot_cpu"] * 1e6)
        down = _util.percentiles(r["teardowns"])
        _util.report(f"{driver}: teardown latency p50", down["p50"] * 1e6)
        if driver == "linuxbridge":
            _util.report(f"{driver}: teardown latency mean (floor = 1 group delete)",
                         down["mean"] * 1e6, unplug_floor * 1e6, TEARDOWN_TARGET)
        else:
            _util.report(f"{driver}: teardown latency mean", down["mean"] * 1e6)
        _util.report(f"{driver}: teardown CPU per instance", r["teardown_cpu"] * 1e6)


if __name__ == "__main__":
    main()
