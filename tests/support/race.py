"""Many processes allocating from one subnet at once: the race-test workers.

Each outcome is ``(kind, payload, stats)``: kind ``ok`` (payload: port id,
MAC, fixed IPs), ``error`` (payload: the NaasError class name) or
``unexpected``; ``stats`` holds the call's ``seconds``, the writer's ``cpu``
seconds during the call, and ``retries`` (the
transaction re-runs logged by the retry decorator), ``conflicts_at`` (where
each retried attempt failed, e.g. ``UPDATE ip_lanes`` or ``COMMIT``) and ``errors_logged``
(ERROR records logged during the call, e.g. oslo's dropped-exception
tracebacks).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Sequence
from typing import Any

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc

#: Ports a warmed worker creates (and deletes) on its warm-up network before the race.
WARM_UPS = 3
#: Loggers whose DEBUG "retrying" record marks one re-run of a transaction.
RETRY_LOGGERS = ("oslo_db.api", "naas_lib.db.retry")


class _Counter(logging.Handler):
    """Counts retry records and ERROR records seen since the last reset."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = self.errors = 0
        self.places: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors += 1
        elif record.name in RETRY_LOGGERS and record.levelno == logging.DEBUG and \
                "retry" in record.getMessage().lower():
            self.retries += 1
            message = record.getMessage()
            self.places.append(message.rsplit(" at ", 1)[1] if " at " in message else "?")


def _install_counter() -> _Counter:
    counter = _Counter()
    root = logging.getLogger()
    root.addHandler(counter)
    root.setLevel(logging.WARNING)
    for name in RETRY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    return counter


def create_ports_worker(url: str, network_id: str, attempts: int, barrier: Any,
                        results: Any, warm_network_id: str | None = None) -> None:
    """Create ``attempts`` ports one by one; report each outcome on ``results``.

    With ``warm_network_id`` the worker first creates and deletes ports there
    (its statements compiled, its pool connections made); its figures for
    that are reported as the outcome ``("warm-up", None, stats)``, first.
    """
    counter = _install_counter()
    svc = NetworkService.from_settings(database_url=url, create_schema=False)
    ctx = RequestContext(project_id="race", user_id="racer")
    outcomes: list[tuple[str, Any, dict[str, Any]]] = []
    try:
        # Connected and warm, as a long-running service is: the race measures the
        # writers' contention, not a process's first connection and imports.
        svc.get_network(ctx, network_id)
        if warm_network_id is not None:
            t0, cpu0 = time.perf_counter(), time.process_time()
            made = [svc.create_port(ctx, network_id=warm_network_id) for _ in range(WARM_UPS)]
            first = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}
            for port in made:
                svc.delete_port(ctx, port.id)
            outcomes.append(("warm-up", None, first))
        barrier.wait(timeout=60)
        for _ in range(attempts):
            counter.retries = counter.errors = 0
            counter.places = []
            t0, cpu0 = time.perf_counter(), time.process_time()
            try:
                port = svc.create_port(ctx, network_id=network_id)
                kind, payload = "ok", (port.id, port.mac_address,
                                       [(f.subnet_id, f.ip_address) for f in port.fixed_ips])
            except exc.NaasError as e:
                kind, payload = "error", type(e).__name__
            except Exception as e:  # reported to the test, which fails on it
                kind, payload = "unexpected", f"{type(e).__name__}: {e}"
            stats = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0,
                     "retries": counter.retries,
                     "conflicts_at": counter.places, "errors_logged": counter.errors}
            outcomes.append((kind, payload, stats))
    finally:
        results.put(outcomes)
        svc.close()


def run_race(url: str | Sequence[str], network_id: str, processes: int, attempts: int,
             timeout: float = 240.0, warm_network_id: str | None = None
             ) -> list[tuple[str, Any, dict[str, Any]]]:
    """Start ``processes`` workers together; return every outcome of every worker.

    With several URLs (the nodes of a cluster) worker ``i`` writes through
    ``urls[i % len(urls)]``. ``warm_network_id``: see :func:`create_ports_worker`
    (each worker's warm-up outcome comes first among its outcomes).
    """
    urls = [url] if isinstance(url, str) else list(url)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=create_ports_worker,
                         args=(urls[i % len(urls)], network_id, attempts, barrier, results,
                               warm_network_id))
             for i in range(processes)]
    for p in procs:
        p.start()
    outcomes: list[tuple[str, Any, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    for _ in procs:
        outcomes.extend(results.get(timeout=max(1.0, deadline - time.monotonic())))
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    return outcomes
