"""Which networks this process allocates addresses from under contention.

A writer alone takes the lowest free address. When a transaction of this
process lost a race *for an address* (see :func:`is_address_conflict`), its
network is "hot" for ``HOT_SECONDS``: every thread of the process then
allocates there from a lane and a free value of its own pick (see
:mod:`naas_lib.ipam.ranges`), so contending writers update different rows
from their first attempt on. Picks are per thread and kept while they win;
after each lost race a thread draws again and moves to one of the least
advanced lanes (:class:`~naas_lib.ipam.ranges.Spread`), so writers settle
on different lanes. Other conflicts (a generated MAC that collided, SQLite's single
writer lock, a revision check) do not make a network hot: spreading
addresses cannot help them. The loser also records the contention on the
network's pools in the database (:mod:`naas_lib.ipam.hot`), and a network
whose pools are marked there is hot in every process that reads them
(:meth:`Contention.hot_elsewhere`). Advisory: correctness stays with the
database's constraints.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time

from oslo_db import exception as db_exc

from naas_lib import exceptions as exc
from naas_lib.db import retry
from naas_lib.ipam.ranges import Spread

HOT_SECONDS = 30.0
REMEMBERED = 256
#: Tables whose rows only address allocation writes.
ADDRESS_TABLES = frozenset({"ip_allocations", "ip_lanes", "ip_free"})


def is_address_conflict(error: BaseException) -> bool:
    """Did this lost race happen on an address row (a lane mark, a free value, an address)?

    Yes for the allocator's own lost compare-and-swap, a duplicate address,
    and a deadlock or certification failure (MySQL 1213, SQLSTATE 40001,
    ...): Galera aborts a local transaction at whatever statement it is
    running when a replicated write set needs its rows, and the rows a port
    creation shares with other writers are its address rows (the others are
    new rows keyed by fresh ids). No for a duplicate MAC or other non-address
    duplicate, a typed conflict on anything else (a revision check), or a busy
    SQLite database, whose one writer lock no spreading can help.
    """
    if retry.classify(error) != retry.CONFLICT:
        return False
    for err in retry.chain(error):
        if isinstance(err, sqlite3.Error):
            return False
        if isinstance(err, exc.ConcurrentModification):
            return err.kwargs.get("resource") == "Allocation"
        if isinstance(err, db_exc.DBDuplicateEntry):
            return retry.where(err).split(" ")[-1] in ADDRESS_TABLES
    return True


class Contention:
    """Hot networks of this process and each thread's pick for them."""

    def __init__(self, hot_seconds: float = HOT_SECONDS) -> None:
        self.hot_seconds = hot_seconds
        self._lock = threading.Lock()
        self._hot: dict[str, float] = {}
        self._local = threading.local()
        self._random = random.SystemRandom()

    def spread(self, network_id: str) -> Spread | None:
        """None (take the lowest) or this thread's pick for a hot network.

        Called once per allocation attempt inside a retried transaction:
        :func:`naas_lib.db.retry.current_conflict` says whether this attempt
        follows a lost race. A new pick is ``moving``: its first allocation
        moves it to one of the least used lanes, where it then stays.
        """
        picks: dict[str, Spread] = self._local.__dict__.setdefault("picks", {})
        now = time.monotonic()
        conflict = retry.current_conflict()
        if conflict is not None and is_address_conflict(conflict):
            return self.lost(network_id)
        with self._lock:
            hot = self._hot.get(network_id, 0.0) > now
        if not hot:
            picks.pop(network_id, None)
            return None
        if network_id not in picks:
            if len(picks) > REMEMBERED:
                picks.clear()
            picks[network_id] = Spread(self._draw(), moving=True)
        return picks[network_id]

    def lost(self, network_id: str) -> Spread:
        """This thread lost an address race on ``network_id``: the network is hot
        and the thread moves to a new lane (the returned pick, kept)."""
        now = time.monotonic()
        with self._lock:
            if len(self._hot) > REMEMBERED:
                self._hot = {k: v for k, v in self._hot.items() if v > now}
            self._hot[network_id] = now + self.hot_seconds
        picks: dict[str, Spread] = self._local.__dict__.setdefault("picks", {})
        picks[network_id] = Spread(self._draw(), moving=True)
        return picks[network_id]

    def hot_elsewhere(self, network_id: str, seconds: float) -> Spread | None:
        """The database says ``network_id`` is contended for ``seconds`` more (another
        process lost a race there): hot here too; this thread's pick, or None if not hot."""
        if seconds <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            if len(self._hot) > REMEMBERED:
                self._hot = {k: v for k, v in self._hot.items() if v > now}
            until = now + min(seconds, self.hot_seconds)
            self._hot[network_id] = max(self._hot.get(network_id, 0.0), until)
        picks: dict[str, Spread] = self._local.__dict__.setdefault("picks", {})
        if network_id not in picks:
            if len(picks) > REMEMBERED:
                picks.clear()
            picks[network_id] = Spread(self._draw(), moving=True)
        return picks[network_id]

    def to_mark(self, error: BaseException, marked_seconds: float) -> bool:
        """Should the database's mark be written after the lost race ``error``?

        Yes for an address conflict, unless the mark read in the lost attempt
        (``marked_seconds`` left) still lasts more than half a hot period.
        """
        return is_address_conflict(error) and marked_seconds < self.hot_seconds / 2

    def _draw(self) -> int:
        return self._random.randrange(1 << 30)
