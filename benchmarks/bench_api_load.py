"""Load over loopback: port create/delete pairs through ``naas-api`` vs. in-process.

    .venv/bin/python benchmarks/bench_api_load.py [--pairs 2000] [--threads 4]
        [--database-url URL | --backend postgresql] [--workers N] [--server-threads T]
    .venv/bin/python benchmarks/bench_api_load.py --rate 100 --mix 4:1 [--duration 30]
    .venv/bin/python benchmarks/bench_api_load.py --saturate --threads 8 [--duration 20]

``--rate R --mix READS:WRITES`` is open-loop: requests start on a fixed
schedule of R per second whatever the server's speed (reads: a port by id and
a page of 20 ports of the network; writes: a port create, then the delete of
an earlier one), and each latency is counted from its scheduled start, so a
server that falls behind shows it (no coordinated omission). Prints
p50/p99/max and errors; target p99 < 25 ms at 100 requests/s.

``--saturate`` runs the same mix closed-loop with ``--threads`` clients for
``--duration`` seconds, then the same operations through ``NetworkService``
in-process with as many threads: requests/s, operations/s and their ratio
(target at least 0.7).

Without either, the default mode:

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
import collections
import contextlib
import http.client
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from naas_lib import NetworkService, RequestContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import databases  # noqa: E402

BIN = Path(sys.executable).parent
FLOOR_RPS = 50.0  # the API must sustain at least this over loopback
TARGET_P99_MS = 25.0  # open loop at 100 requests/s
TARGET_SATURATION = 0.7  # API throughput / in-process throughput


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


# -- the mixed load: open loop at a fixed rate, and closed loop at saturation --------

HEADERS = {"X-Project-Id": "bench", "X-User-Id": "bench", "X-Roles": "member",
           "Content-Type": "application/json"}


def _parse_mix(text: str) -> tuple[int, int]:
    reads, writes = (int(x) for x in text.split(":"))
    if reads < 0 or writes < 0 or reads + writes == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not READS:WRITES")
    return reads, writes


class Mix:
    """The request sequence: ``reads`` reads for every ``writes`` writes, interleaved.

    Writes alternate a port create and the delete of the oldest port still
    there, so the network's size stays about constant.
    """

    def __init__(self, net_id: str, mix: tuple[int, int], seed_ports: list[str]) -> None:
        self.net_id = net_id
        reads, writes = mix
        # Writes spread among reads (4:1 -> r r r r w), deterministic.
        self.cycle = [("w" if (i * writes) // (reads + writes) != ((i + 1) * writes)
                       // (reads + writes) else "r") for i in range(reads + writes)]
        self.ports = collections.deque(seed_ports)
        self.lock = threading.Lock()
        self.n = 0
        self.creates = 0

    def next(self) -> tuple[str, str, bytes | None, int]:
        """(method, path, body, expected status) of the next request."""
        with self.lock:
            kind = self.cycle[self.n % len(self.cycle)]
            self.n += 1
            if kind == "r":
                if self.n % 2 and self.ports:
                    return "GET", f"/v2.0/ports/{self.ports[-1]}", None, 200
                return ("GET", f"/v2.0/ports?network_id={self.net_id}&limit=20", None, 200)
            self.creates += 1
            if self.creates % 2 and len(self.ports) > 1:
                return "DELETE", f"/v2.0/ports/{self.ports.popleft()}", None, 204
        body = json.dumps({"port": {"network_id": self.net_id}}).encode()
        return "POST", "/v2.0/ports", body, 201

    def created(self, port_id: str) -> None:
        with self.lock:
            self.ports.append(port_id)


def _request(conn: http.client.HTTPConnection, mix: Mix) -> bool:
    method, path, body, expected = mix.next()
    conn.request(method, path, body=body, headers=HEADERS)
    r = conn.getresponse()
    data = r.read()
    if r.status == 201:
        mix.created(json.loads(data)["port"]["id"])
    return r.status == expected


def _setup(url: str, seed: int) -> tuple[str, list[str]]:
    s = requests.Session()
    net = s.post(f"{url}/v2.0/networks", json={"network": {"name": "bench"}},
                 headers=HEADERS).json()["network"]
    s.post(f"{url}/v2.0/subnets", headers=HEADERS, json={
        "subnet": {"network_id": net["id"], "cidr": "10.200.0.0/16"}}).raise_for_status()
    ports = [s.post(f"{url}/v2.0/ports", json={"port": {"network_id": net["id"]}},
                    headers=HEADERS).json()["port"]["id"] for _ in range(seed)]
    return net["id"], ports


def run_rate(url: str, rate: float, duration: float, mix: tuple[int, int],
             clients: int) -> tuple[list[float], int, float]:
    """Open loop: (latencies from each request's scheduled start, errors, seconds late)."""
    host, port = url.split("//")[1].split(":")
    net_id, seed = _setup(url, 20)
    work = Mix(net_id, mix, seed)
    total = int(rate * duration)
    start = time.perf_counter() + 0.2
    schedule = iter(start + i / rate for i in range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine, bad = [], 0
        while True:
            with lock:
                due = next(schedule, None)
            if due is None:
                break
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                ok = _request(conn, work)
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            mine.append(time.perf_counter() - due)
            bad += not ok
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    late = time.perf_counter() - (start + total / rate)
    return latencies, errors[0], late


def run_saturate(url: str, duration: float, mix: tuple[int, int],
                 clients: int) -> tuple[int, int, float]:
    """Closed loop: (requests done, errors, seconds)."""
    host, port = url.split("//")[1].split(":")
    net_id, seed = _setup(url, 20)
    work = Mix(net_id, mix, seed)
    stop = threading.Event()
    done, errors = [0], [0]
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        n = bad = 0
        while not stop.is_set():
            try:
                bad += not _request(conn, work)
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            n += 1
        conn.close()
        with lock:
            done[0] += n
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join()
    return done[0], errors[0], time.perf_counter() - t0


def inprocess_saturate(database_url: str, duration: float, mix: tuple[int, int],
                       clients: int) -> tuple[int, int, float]:
    """The same operations through ``NetworkService`` in this process: (done, errors, s)."""
    svc = NetworkService.from_settings(database_url=database_url)
    ctx = RequestContext(project_id="bench", user_id="bench", roles=["member"])
    net = svc.create_network(ctx, name="bench-inproc")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.201.0.0/16")
    work = Mix(net.id, mix, [svc.create_port(ctx, network_id=net.id).id for _ in range(20)])
    stop = threading.Event()
    done, errors = [0], [0]
    lock = threading.Lock()

    def op() -> None:
        method, path, _body, _ = work.next()
        if method == "POST":
            work.created(svc.create_port(ctx, network_id=net.id).id)
        elif method == "DELETE":
            svc.delete_port(ctx, path.rsplit("/", 1)[1])
        elif "?" in path:
            svc.list_ports(ctx, network_id=net.id, limit=20)
        else:
            svc.get_port(ctx, path.rsplit("/", 1)[1])

    def client() -> None:
        n = bad = 0
        while not stop.is_set():
            try:
                op()
            except Exception:  # counted, like the API's unexpected answers
                bad += 1
            n += 1
        with lock:
            done[0] += n
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    svc.close()
    return done[0], errors[0], elapsed


@contextlib.contextmanager
def api_server(tmp: str, db_url: str, workers: int | None,
               threads: int | None) -> Iterator[str]:
    """``naas-api`` (noauth) on a free port of 127.0.0.1; yields its URL."""
    port = _free_port()
    conf = Path(tmp) / "naas.conf"
    api = f"[api]\nhost = 127.0.0.1\nport = {port}\n"
    if threads is not None:
        api += f"threads = {threads}\n"
    if workers is not None:
        api += f"workers = {workers}\n"
    conf.write_text(f"[DEFAULT]\nauth_strategy = noauth\n[database]\nconnection = {db_url}\n"
                    + api)
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
                if proc.poll() is not None:
                    raise RuntimeError((Path(tmp) / "api.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _database(args: argparse.Namespace, tmp: str, name: str,
              drops: list[Callable[[], None]]) -> str:
    if args.database_url:
        return args.database_url
    if args.backend == "sqlite":
        return f"sqlite:///{tmp}/{name}.sqlite"
    url, drop = databases.provision(args.backend)
    drops.append(drop)
    NetworkService.from_settings(database_url=url, create_schema=True).close()
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"),
                        default="sqlite", help="a fresh database of this backend")
    parser.add_argument("--workers", type=int, help="[api] workers (default: the server's)")
    parser.add_argument("--server-threads", type=int,
                        help="[api] threads (default: the server's)")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--mix", type=_parse_mix, default=(4, 1), help="READS:WRITES")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--saturate", action="store_true")
    args = parser.parse_args()
    if args.rate is None and not args.saturate:
        return pairs_main(args)
    drops: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            db_url = _database(args, tmp, "api", drops)
            label = (f"{db_url.split(':')[0]}, workers {args.workers or 'default'}, "
                     f"server threads {args.server_threads or 'default'}, "
                     f"mix {args.mix[0]}:{args.mix[1]}")
            with api_server(tmp, db_url, args.workers, args.server_threads) as url:
                if args.rate:
                    lat, errors, late = run_rate(url, args.rate, args.duration, args.mix,
                                                 max(args.threads, 16))
                else:
                    done, errors, elapsed = run_saturate(url, args.duration, args.mix,
                                                         args.threads)
            if args.rate:
                ms = [x * 1000 for x in lat]
                p99 = _percentile(ms, 99)
                print(f"API open loop at {args.rate:.0f} req/s for {args.duration:.0f} s "
                      f"({label})")
                print(f"  requests: {len(ms)}, errors: {errors}, schedule end late by "
                      f"{late * 1000:.0f} ms")
                print(f"  latency ms from scheduled start: p50 {_percentile(ms, 50):.1f}  "
                      f"p90 {_percentile(ms, 90):.1f}  p99 {p99:.1f}  max {max(ms):.1f}")
                print(f"  target p99 < {TARGET_P99_MS:.0f} ms: "
                      f"{'met' if p99 < TARGET_P99_MS else 'MISSED'}")
                return 1 if errors else 0
            in_url = _database(args, tmp, "inproc", drops)
            logging.disable(logging.CRITICAL)
            in_done, in_errors, in_elapsed = inprocess_saturate(in_url, args.duration,
                                                                args.mix, args.threads)
        finally:
            for drop in drops:
                drop()
    rps, ops = done / elapsed, in_done / in_elapsed
    print(f"Saturation, {args.threads} client threads, {args.duration:.0f} s ({label})")
    print(f"  API: {done} requests = {rps:.0f} req/s, errors {errors}")
    print(f"  in-process NetworkService (floor): {in_done} operations = {ops:.0f} ops/s, "
          f"errors {in_errors}")
    ratio = rps / ops
    print(f"  ratio API / in-process: {ratio:.2f} (target >= {TARGET_SATURATION}: "
          f"{'met' if ratio >= TARGET_SATURATION else 'MISSED'})")
    return 1 if errors or in_errors else 0


def pairs_main(args: argparse.Namespace) -> int:
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
