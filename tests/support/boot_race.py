"""Many compute hosts booting instances against one database at once: the workers.

Each worker process is a compute host with its own service (the shared fake
driver, :mod:`tests.support.fake_driver`, which records what it plugged) and
provisioner; it boots instances with one NIC on each of the given networks
and reports, per instance, the ports it got or the NIC that failed.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from typing import Any

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.support.fake_driver import FakeDriver


def boot_worker(url: str, host: str, network_ids: list[str], instances: int,
                barrier: Any, results: Any) -> None:
    """Boot ``instances`` instances; put a list of outcomes on ``results``."""
    svc = NetworkService.from_settings(database_url=url, driver="noop", host=host,
                                       create_schema=False, driver_cls=FakeDriver,
                                       fake={"endpoint": "192.0.2.1"})
    prov = Provisioner(svc)
    ctx = RequestContext(project_id="race", user_id="nova")
    outcomes: list[tuple[str, str, Any]] = []
    try:
        barrier.wait(timeout=120)
        for n in range(instances):
            inst = {"uuid": str(uuid.uuid4()), "name": f"{host}-{n}", "project_id": "race"}
            try:
                info = prov.allocate_for_instance(
                    ctx, inst, [NicRequest(network_id=net) for net in network_ids], host)
                outcomes.append(("ok", inst["uuid"], [v["id"] for v in info]))
            except exc.NicAllocationFailed as e:
                outcomes.append(("failed", inst["uuid"],
                                 (e.index, type(e.__cause__).__name__, e.reason)))
            except Exception as e:  # reported to the test, which fails on it
                outcomes.append(("unexpected", inst["uuid"], f"{type(e).__name__}: {e}"))
        outcomes.append(("plugged", host, sorted(FakeDriver.on(host).plugged)))
    finally:
        results.put(outcomes)
        svc.close()


def run_boots(url: str, network_ids: list[str], processes: int, instances: int,
              timeout: float = 300.0) -> list[tuple[str, str, Any]]:
    """Start ``processes`` hosts together; every outcome of every host."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=boot_worker,
                         args=(url, f"compute-{i}", network_ids, instances, barrier, results))
             for i in range(processes)]
    for p in procs:
        p.start()
    outcomes: list[tuple[str, str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        for _ in procs:
            outcomes.extend(results.get(timeout=max(1.0, deadline - time.monotonic())))
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return outcomes
