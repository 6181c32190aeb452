"""``naas-api`` with ``[api] workers = 2``: both serve, and SIGTERM drains each of them.

The same trial as ``test_drain``: clients keep requests going on kept-alive
connections while the parent gets SIGTERM; it forwards the signal to both
workers, each drains, and every request started before the signal gets a
complete response. A second signal ends the workers at once; a worker that
dies by itself stops the whole server.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.api.conftest import ApiServer
from tests.api.test_drain import run_trial

TRIALS = 4
WORKERS = 2


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _worker_server(workdir: Path) -> ApiServer:
    workdir.mkdir(exist_ok=True)
    server = ApiServer(workdir)
    server.conf.write_text(server.conf.read_text() + f"workers = {WORKERS}\n")
    server.start()
    # Every worker has bound the port before the test relies on it.
    deadline = time.monotonic() + 30
    while server.proc.poll() is None and time.monotonic() < deadline:
        if server.log.read_text().count("naas-api serving") >= WORKERS:
            break
        time.sleep(0.05)
    return server


def _ended(server: ApiServer) -> None:
    """Kill a parent a failed test left running (its workers get SIGTERM from the kernel)."""
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()


def test_two_workers_serve_and_each_drains_on_sigterm(tmp_path):
    lost_total = sent_total = 0
    for trial in range(TRIALS):
        server = _worker_server(tmp_path / f"t{trial}")
        try:
            workers = _children(server.proc.pid)
            assert len(workers) == WORKERS, server.log.read_text()[-2000:]
            result = run_trial(server)  # asserts the parent exits 0
            sent, lost = result.lost()
            sent_total += sent
            lost_total += len(lost)
            assert not lost, [o.error for o in lost][:3]
            for pid in workers:  # reaped: no worker outlives the parent
                assert not Path(f"/proc/{pid}").exists() or \
                    "zombie" in Path(f"/proc/{pid}/status").read_text()
            log = server.log.read_text()
            assert log.count("Drained: every accepted request was answered") == WORKERS, log
        finally:
            _ended(server)
    assert sent_total > TRIALS * 4 and lost_total == 0


def test_second_signal_ends_the_workers_at_once(tmp_path):
    server = _worker_server(tmp_path)
    try:
        held = socket.create_connection(("127.0.0.1", server.port))  # accepted, silent
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            server.proc.wait(timeout=0.5)  # a worker is draining the held connection
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=5) == 128 + signal.SIGTERM
        held.close()
    finally:
        _ended(server)


def test_a_worker_that_dies_stops_the_server(tmp_path):
    server = _worker_server(tmp_path)
    try:
        first, *others = _children(server.proc.pid)
        subprocess.run(["kill", "-KILL", str(first)], check=True)
        assert server.proc.wait(timeout=30) == 1
        assert all(not Path(f"/proc/{pid}").exists() for pid in others)
        assert "ended by itself" in server.log.read_text()
    finally:
        _ended(server)
