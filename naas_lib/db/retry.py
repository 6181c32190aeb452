"""What a failed database call means, and running a transaction again when that helps.

Two kinds of failure are worth another attempt of the whole transaction:

- ``UNAVAILABLE``: the server cannot be reached or dropped the connection
  (restart, failover, a Galera node leaving the primary component);
- ``CONFLICT``: the transaction lost a race (deadlock, Galera certification
  failure, serialization failure, SQLite busy, a compare-and-swap that
  matched no row).

They are recognised by what SQLAlchemy and the DB-API driver report --
``connection_invalidated``, MySQL/MariaDB error numbers, PostgreSQL
SQLSTATEs, SQLite result codes -- never by message text, which changes
between driver and library versions (libpq 15 no longer prints "could not
connect to server", which oslo.db's text filter looks for).

:func:`retrying` runs a transaction function again with jittered exponential
backoff: up to ``max_retries`` times for conflicts, for up to
``unavailable_timeout`` seconds for an outage; then it raises the typed
:class:`~naas_lib.exceptions.ConcurrentModification` or
:class:`~naas_lib.exceptions.DatabaseUnavailable` and logs one WARNING line
(no traceback). :func:`translate` gives the typed error without retrying.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import exceptions as exc

LOG = logging.getLogger(__name__)
T = TypeVar("T")

UNAVAILABLE = "unavailable"
CONFLICT = "conflict"

#: MySQL/MariaDB error numbers (server ER_* and client CR_*) meaning "no usable connection".
MYSQL_UNAVAILABLE = frozenset({
    1040,  # ER_CON_COUNT_ERROR: too many connections
    1047,  # ER_UNKNOWN_COM_ERROR: Galera node not ready (not in the primary component)
    1053,  # ER_SERVER_SHUTDOWN
    1077,  # ER_NORMAL_SHUTDOWN
    1152,  # ER_ABORTING_CONNECTION
    1927,  # ER_CONNECTION_KILLED
    2002,  # CR_CONNECTION_ERROR (socket)
    2003,  # CR_CONN_HOST_ERROR (TCP connect refused / unreachable)
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST
    2055,  # CR_SERVER_LOST_EXTENDED
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT
})
#: MySQL/MariaDB error numbers of a lost race: run the transaction again.
MYSQL_CONFLICT = frozenset({
    1205,  # ER_LOCK_WAIT_TIMEOUT
    1213,  # ER_LOCK_DEADLOCK (also Galera's certification failure at COMMIT)
    1020,  # ER_CHECKREAD: record changed since last read
})
#: PostgreSQL SQLSTATEs beyond class 08 (connection exception) meaning "server going away".
PG_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300"})
#: PostgreSQL SQLSTATEs of a lost race.
PG_CONFLICT = frozenset({"40001", "40P01"})
#: SQLite primary result codes of a writer that lost to another one.
SQLITE_CONFLICT = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED

DEFAULT_MAX_RETRIES = 10
DEFAULT_UNAVAILABLE_TIMEOUT = 10.0
DEFAULT_INTERVAL = 0.005
DEFAULT_MAX_INTERVAL = 0.25
OUTAGE_MAX_INTERVAL = 1.0


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error and what it wraps: oslo.db inner exception, DB-API ``orig``, causes."""
    seen: set[int] = set()
    todo = [error]
    while todo and len(seen) < 12:
        err = todo.pop(0)
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo.extend([getattr(err, "inner_exc", None), getattr(err, "inner_exception", None),
                     getattr(err, "orig", None), err.__cause__, err.__context__])


def chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error and the errors it wraps, outermost first (see :func:`describe`)."""
    return _chain(error)


def _driver_kind(err: BaseException) -> tuple[str | None, str]:
    """(kind, short reason) from a DB-API driver's exception; (None, '') if unknown."""
    module = type(err).__module__.split(".")[0]
    if module == "pymysql":
        code = err.args[0] if err.args and isinstance(err.args[0], int) else None
        if code in MYSQL_UNAVAILABLE:
            return UNAVAILABLE, f"MySQL error {code}"
        if code in MYSQL_CONFLICT:
            return CONFLICT, f"MySQL error {code}"
        if type(err).__name__ == "InterfaceError":  # the connection object is closed
            return UNAVAILABLE, "MySQL connection closed"
        return None, ""
    if module == "psycopg2":
        pgcode = getattr(err, "pgcode", None)
        if pgcode is not None:
            if pgcode.startswith("08") or pgcode in PG_UNAVAILABLE:
                return UNAVAILABLE, f"SQLSTATE {pgcode}"
            if pgcode in PG_CONFLICT:
                return CONFLICT, f"SQLSTATE {pgcode}"
            return None, ""
        # No SQLSTATE: libpq itself failed (connect refused, server closed the
        # connection) or the connection object is closed.
        if type(err).__name__ in ("OperationalError", "InterfaceError"):
            return UNAVAILABLE, "PostgreSQL connection failure"
        return None, ""
    if isinstance(err, sqlite3.OperationalError):
        code = getattr(err, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in SQLITE_CONFLICT:
            return CONFLICT, "SQLite busy"
    return None, ""


def describe(error: BaseException) -> tuple[str | None, str]:
    """(kind, short reason without server text) of ``error``; kind None if not retryable."""
    for err in _chain(error):
        if isinstance(err, exc.DatabaseUnavailable):
            return UNAVAILABLE, err.kwargs.get("reason", "unavailable")
        if isinstance(err, exc.ConcurrentModification):
            return CONFLICT, "concurrent modification"
        if isinstance(err, exc.NaasError):
            return None, ""  # a typed answer (not found, in use, ...) is final
        if isinstance(err, (db_exc.DBDeadlock, db_exc.RetryRequest)):
            return CONFLICT, type(err).__name__
        if isinstance(err, db_exc.DBConnectionError):
            return UNAVAILABLE, "connection error"
        if isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated:
            return UNAVAILABLE, "connection invalidated"
        if isinstance(err, sa.exc.DisconnectionError):
            return UNAVAILABLE, "disconnected"
        kind, reason = _driver_kind(err)
        if kind is not None:
            return kind, reason
    return None, ""


def where(error: BaseException) -> str:
    """Which statement failed, in a few words (for the DEBUG line of a retry).

    The verb and table of the SQL statement (``UPDATE ip_lanes``), what a
    typed conflict names (``lane 3 of range 7``), or ``COMMIT`` when the
    error carries no statement: Galera reports a lost certification there.
    """
    for err in _chain(error):
        if isinstance(err, exc.ConcurrentModification):
            return str(err.kwargs.get("resource_id", "?"))
        statement = getattr(err, "statement", None)
        if isinstance(statement, str) and statement.strip():
            words = statement.split()
            table = next((words[i + 1] for i in range(len(words) - 1)
                          if words[i].upper() in ("INTO", "UPDATE", "FROM")), "")
            return (words[0].upper() + " " + table.strip('`"')).strip()
    return "COMMIT"


def classify(error: BaseException) -> str | None:
    """``UNAVAILABLE``, ``CONFLICT`` or None (not worth running again)."""
    return describe(error)[0]


def translate(error: BaseException) -> exc.NaasError | None:
    """The typed error a caller should see for ``error``, or None if it is not a DB failure."""
    kind, reason = describe(error)
    if kind == UNAVAILABLE:
        if isinstance(error, exc.DatabaseUnavailable):
            return error
        return exc.DatabaseUnavailable(reason=reason)
    if kind == CONFLICT:
        for err in _chain(error):
            if isinstance(err, exc.ConcurrentModification):
                return err
        return exc.ConcurrentModification(
            f"The request conflicted with concurrent changes ({reason}); retry the request.",
            resource="resource", resource_id="?")
    return None


_depth = threading.local()


def on_conflict(callback: Callable[[BaseException], None], key: Any = None) -> None:
    """Run ``callback(error)`` if the running attempt ends in a lost race.

    With a ``key``, only the first callback registered under it in an attempt
    runs (a transaction allocating many ports records its network once).

    It runs after the attempt's transaction was rolled back and its
    connection went back to the pool, before the pause and the next attempt,
    so it can write on that connection without opening another (the IP
    allocator records there that a network is contended). Outside a retried
    call, or for an attempt that succeeds or fails otherwise, it never runs.
    Its own failures are logged at DEBUG and ignored.
    """
    hooks = getattr(_depth, "hooks", None)
    if hooks is not None:
        hooks.setdefault(object() if key is None else key, callback)


def _run_hooks(error: BaseException) -> None:
    hooks, _depth.hooks = getattr(_depth, "hooks", None) or {}, {}
    for hook in hooks.values():
        try:
            hook(error)
        except Exception as e:  # advisory work: the retry goes on
            LOG.debug("conflict hook %r failed: %s", hook, type(e).__name__)


def current_conflict() -> BaseException | None:
    """The lost race that made the running attempt a retry; None on a first attempt.

    Lets the code inside a retried transaction change course after a conflict
    (the IP allocator moves to a lane of its own after an address conflict).
    """
    return getattr(_depth, "conflict", None)


@dataclasses.dataclass
class _Budget:
    """How long one decorated call keeps trying, and how long it waits between tries."""

    max_retries: int
    unavailable_timeout: float
    interval: float
    max_interval: float
    clock: Callable[[], float]
    conflicts: int = 0
    outages: int = 0
    outage_since: float | None = None

    def pause_after(self, kind: str, name: str, reason: str, error: Exception) -> float:
        """Seconds to wait before the next try; the typed error when the budget is spent."""
        if kind == CONFLICT:
            self.conflicts += 1
            if self.conflicts > self.max_retries:
                LOG.warning("%s: gave up after %d conflicting attempts (%s)",
                            name, self.conflicts, reason)
                raise translate(error) from error
            # A lost certification or compare-and-swap means the winner has
            # committed already: the first retry waits little, later ones more.
            return random.uniform(0, min(self.max_interval,
                                         self.interval * 2 ** (self.conflicts - 1)))
        now = self.clock()
        self.outage_since = now if self.outage_since is None else self.outage_since
        down = now - self.outage_since
        if down >= self.unavailable_timeout:
            LOG.warning("%s: database unavailable for %.1fs, gave up after %d attempts (%s)",
                        name, down, self.outages + 1, reason)
            raise translate(error) from error
        self.outages += 1
        pause = min(OUTAGE_MAX_INTERVAL, self.interval * 2 ** (self.outages + 3),
                    max(0.0, self.unavailable_timeout - down))
        return random.uniform(pause / 2, pause)


def retrying(
    max_retries: int = DEFAULT_MAX_RETRIES,
    unavailable_timeout: float = DEFAULT_UNAVAILABLE_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    max_interval: float = DEFAULT_MAX_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A decorator running a whole transaction function again after a retryable failure.

    Conflicts are retried ``max_retries`` times with jittered exponential
    backoff from ``interval`` to ``max_interval``; an outage is retried for
    ``unavailable_timeout`` seconds (backoff up to 1 s). The function must
    open its own transaction, so a retry starts from scratch. Only the
    outermost decorated call retries: a nested one lets the error through.
    Anything else (including every other ``NaasError``) propagates unchanged.
    """

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        name = getattr(fn, "__qualname__", repr(fn))

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> T:
            if getattr(_depth, "n", 0):
                return fn(*args, **kwargs)
            _depth.n, _depth.conflict, _depth.hooks = 1, None, {}
            try:
                return _run(fn, name, args, kwargs)
            finally:
                _depth.n, _depth.conflict, _depth.hooks = 0, None, None

        return call

    def _run(fn: Callable[..., T], name: str, args: Any, kwargs: Any) -> T:
        budget = _Budget(max_retries, unavailable_timeout, interval, max_interval, clock)
        while True:
            _depth.hooks = {}
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                kind, reason = describe(e)
                if kind is None:
                    raise
                if kind == CONFLICT:
                    _run_hooks(e)
                pause = budget.pause_after(kind, name, reason, e)
                LOG.debug("%s: retrying after %s (%s) at %s", name, kind, reason, where(e))
                _depth.conflict = e if kind == CONFLICT else None
                sleep(pause)

    return decorate
