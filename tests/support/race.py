"""Many processes allocating from one subnet at once: the race-test workers."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc


def create_ports_worker(url: str, network_id: str, attempts: int, barrier: Any,
                        results: Any) -> None:
    """Create ``attempts`` ports one by one; report each outcome on ``results``."""
    svc = NetworkService.from_settings(database_url=url, create_schema=False)
    ctx = RequestContext(project_id="race", user_id="racer")
    outcomes: list[tuple[str, Any]] = []
    try:
        barrier.wait(timeout=60)
        for _ in range(attempts):
            try:
                port = svc.create_port(ctx, network_id=network_id)
                outcomes.append(("ok", (port.id, port.mac_address,
                                        [(f.subnet_id, f.ip_address) for f in port.fixed_ips])))
            except exc.NaasError as e:
                outcomes.append(("error", type(e).__name__))
            except Exception as e:  # reported to the test, which fails on it
                outcomes.append(("unexpected", f"{type(e).__name__}: {e}"))
    finally:
        results.put(outcomes)
        svc.close()


def run_race(url: str, network_id: str, processes: int, attempts: int,
             timeout: float = 240.0) -> list[tuple[str, Any]]:
    """Start ``processes`` workers together; return every outcome of every worker."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=create_ports_worker,
                         args=(url, network_id, attempts, barrier, results))
             for _ in range(processes)]
    for p in procs:
        p.start()
    outcomes: list[tuple[str, Any]] = []
    deadline = time.monotonic() + timeout
    for _ in procs:
        outcomes.extend(results.get(timeout=max(1.0, deadline - time.monotonic())))
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    return outcomes
