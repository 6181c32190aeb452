"""Worker processes of ``naas-api`` and the parent that supervises them.

Each worker is a whole server (``serve``), forked before it opens anything
(database pool, threads, sockets), bound with ``SO_REUSEPORT`` beside the
others. The parent forwards SIGTERM/SIGINT to every worker, so each drains
as one server does; a second signal is forwarded too, and the workers exit
at once. Workers are in their own process group (a terminal's Ctrl-C reaches
the parent only, and is forwarded once) and get SIGTERM if the parent dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable

LOG = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_STOP = (signal.SIGTERM, signal.SIGINT)
POLL = 0.02


def _become_worker() -> None:
    """In a new worker: default signal handling, own process group, die with the parent."""
    for signum in _STOP:
        signal.signal(signum, signal.SIG_DFL)
    os.setpgid(0, 0)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: an orphan is ended by its service manager
        pass


def _fork(serve: Callable[[], int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        _become_worker()
        status = serve()
    except BaseException:  # whatever happens, never return into the parent's code
        LOG.exception("naas-api worker %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(status)
    return 0  # not reached


def supervise(count: int, serve: Callable[[], int]) -> int:
    """Run ``serve`` in ``count`` forked workers until they end; the exit status.

    0 when every worker drained after a signal; a worker's own non-zero
    status when one ended by itself (the others are then drained); 128 plus
    the signal when a second signal cut the drain short.
    """
    received: list[int] = []

    def record(signum: int, _frame: object) -> None:
        received.append(signum)  # the loop below forwards it

    for signum in _STOP:
        signal.signal(signum, record)
    children = {_fork(serve) for _ in range(count)}
    LOG.info("naas-api supervising %d workers: %s", count, sorted(children))
    forwarded = 0
    status = 0
    while children:
        while forwarded < len(received):
            for pid in children:
                _kill(pid, received[forwarded])
            forwarded += 1
        pid, raw = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(POLL)
            continue
        children.discard(pid)
        code = os.waitstatus_to_exitcode(raw)
        if not received and status == 0:
            LOG.error("naas-api worker %d ended by itself (status %d): stopping the others",
                      pid, code)
            status = code if code > 0 else 1
            for other in children:
                _kill(other, signal.SIGTERM)
        elif code != 0 and status == 0:
            status = code if code > 0 else 128 - code
    if len(received) >= 2:
        return 128 + received[1]
    return status


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # ended meanwhile; waitpid reaps it
        pass
