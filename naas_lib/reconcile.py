"""A background thread that runs reconciliation rounds at a fixed interval.

The loop knows nothing about networks: it calls a function (the service's
``sync``) every ``interval`` seconds until stopped. An error in one round is
logged and the next round runs as planned, so a transient database or
netlink failure never ends reconciliation. Plain ``threading``: the library
must work in a Nova compute process without monkey patching.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)


class SyncLoop:
    """Run ``round_fn`` now and then every ``interval`` seconds, in one thread."""

    def __init__(self, round_fn: Callable[[], Any], interval: float,
                 name: str = "naas-sync") -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval!r}")
        self._round_fn = round_fn
        self.interval = float(interval)
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Completed rounds, failed ones included.
        self.rounds = 0
        #: Rounds that raised.
        self.failures = 0
        self.last_result: Any = None
        self.last_error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; a second start while running is a no-op."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Ask the loop to end after its current round and wait for it.

        Returns True when the thread has ended (always, unless a round is
        stuck longer than ``timeout``).
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        if thread is not threading.current_thread():
            thread.join(timeout)
        ended = not thread.is_alive()
        if ended:
            self._thread = None
        return ended

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.last_result = self._round_fn()
                self.last_error = None
            except Exception as e:  # one bad round must not end reconciliation
                self.failures += 1
                self.last_error = e
                LOG.exception("Reconciliation round of %s failed; retrying in %.1fs",
                              self.name, self.interval)
            self.rounds += 1
            elapsed = time.monotonic() - started
            self._stop.wait(max(0.0, self.interval - elapsed))
