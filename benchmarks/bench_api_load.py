"""Load over loopback: port create/delete pairs through ``naas-api`` vs. in-process.

    .venv/bin/python benchmarks/bench_api_load.py [--pairs 2000] [--threads 4]
        [--database-url URL]

Starts ``naas-api`` (noauth) on a free 127.0.0.1 port, creates a network and
a /16 subnet, then ``--threads`` client threads with keep-alive sessions run
``--pairs`` create+delete pairs in total. Prints requests/s, latency
percentiles, the error count (must be 0) and the addresses left allocated
(must be 0), then runs the same work through ``NetworkService`` in-process
with the same number of threads and prints the ratio API / in-process.
Exit status 1 when any request failed or an address stayed allocated.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from naas_lib import NetworkService, RequestContext

BIN = Path(sys.executable).parent
FLOOR_RPS = 50.0  # the API must sustain at least this over loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_api(url: str, pairs: int, threads: int) -> tuple[float, list[float], int, str]:
    setup = requests.Session()
    hdr = {"X-Project-Id": "bench", "X-User-Id": "bench", "X-Roles": "member"}
    net = setup.post(f"{url}/v2.0/networks", json={"network": {"name": "bench"}},
                     headers=hdr).json()["network"]
    setup.post(f"{url}/v2.0/subnets", headers=hdr, json={
        "subnet": {"network_id": net["id"], "cidr": "10.200.0.0/16"}}).raise_for_status()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(n: int) -> None:
        s = requests.Session()
        mine, bad = [], 0
        for _ in range(n):
            t0 = time.perf_counter()
            r = s.post(f"{url}/v2.0/ports", json={"port": {"network_id": net["id"]}},
                       headers=hdr)
            t1 = time.perf_counter()
            mine.append(t1 - t0)
            if r.status_code != 201:
                bad += 1
                continue
            d = s.delete(f"{url}/v2.0/ports/{r.json()['port']['id']}", headers=hdr)
            mine.append(time.perf_counter() - t1)
            bad += d.status_code != 204
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    workers = [threading.Thread(target=worker, args=(n,)) for n in _split(pairs, threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    return elapsed, latencies, errors[0], net["id"]


def run_inprocess(database_url: str, pairs: int, threads: int) -> tuple[float, int]:
    svc = NetworkService.from_settings(database_url=database_url)
    ctx = RequestContext(project_id="bench", user_id="bench", roles=["member"])
    net = svc.create_network(ctx, name="bench-inproc")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.201.0.0/16")

    failures = [0]

    def worker(n: int) -> None:
        for _ in range(n):
            try:
                svc.delete_port(ctx, svc.create_port(ctx, network_id=net.id).id)
            except Exception:  # counted and reported, like the API's non-2xx answers
                failures[0] += 1

    workers = [threading.Thread(target=worker, args=(n,)) for n in _split(pairs, threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    svc.close()
    return elapsed, failures[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        port = _free_port()
        conf = Path(tmp) / "naas.conf"
        conf.write_text(f"[DEFAULT]\nauth_strategy = noauth\n[database]\nconnection = {db_url}\n"
                        f"[api]\nhost = 127.0.0.1\nport = {port}\nthreads = 8\n")
        url = f"http://127.0.0.1:{port}"
        with open(Path(tmp) / "api.log", "wb") as log:
            proc = subprocess.Popen([str(BIN / "naas-api"), "--config-file", str(conf)],
                                    stdout=log, stderr=log, env=dict(os.environ))
        try:
            for _ in range(300):
                try:
                    requests.get(url + "/", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            elapsed, lat, errors, net_id = run_api(url, args.pairs, args.threads)
            left = requests.get(f"{url}/v2.0/ports?network_id={net_id}",
                                headers={"X-Project-Id": "bench"}).json()["ports"]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        requests_done = len(lat)
        rps = requests_done / elapsed
        ms = [x * 1000 for x in lat]
        print(f"API over loopback: {args.pairs} create/delete pairs, {args.threads} threads, "
              f"{db_url.split(':')[0]}")
        print(f"  requests: {requests_done} in {elapsed:.2f} s = {rps:.0f} req/s "
              f"({args.pairs / elapsed:.0f} pairs/s)")
        print(f"  latency ms: p50 {_percentile(ms, 50):.1f}  p90 {_percentile(ms, 90):.1f}  "
              f"p99 {_percentile(ms, 99):.1f}  max {max(ms):.1f}  "
              f"mean {statistics.fmean(ms):.1f}")
        print(f"  errors: {errors}   ports (addresses) left allocated: {len(left)}")
        inproc_db = args.database_url or f"sqlite:///{tmp}/inproc.sqlite"
        logging.disable(logging.CRITICAL)
        t_in, in_failures = run_inprocess(inproc_db, args.pairs, args.threads)
        print(f"In-process NetworkService: {args.pairs} pairs in {t_in:.2f} s = "
              f"{args.pairs / t_in:.0f} pairs/s, failed pairs: {in_failures}")
        print(f"  ratio API / in-process throughput: {t_in / elapsed:.2f}")
        print(f"  floor: {FLOOR_RPS:.0f} req/s; measured/floor = {rps / FLOOR_RPS:.1f}")
    return 1 if errors or left else 0


if __name__ == "__main__":
    sys.exit(main())
