"""The database door of one service: an oslo.db enginefacade of its own.

Each :class:`Database` owns a transaction context manager (no global facade),
so two services in one process may talk to two databases. Embedded SQLite
files get WAL journalling and a busy timeout so several processes of one host
can share them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from oslo_db.sqlalchemy import enginefacade
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib.db import retry as db_retry
from naas_lib.db import wal


@enginefacade.transaction_context_provider
class _Scope:
    """A fresh scope per transaction: sessions never leak between callers."""


def default_sqlite_path() -> str:
    """The embedded database file in the user's data directory."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "naas", "naas.sqlite")


def default_url() -> str:
    return "sqlite:///" + default_sqlite_path()


_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def without_local_tls(url: str) -> str:
    """``url`` with TLS off when it is PyMySQL's to a local server and names no TLS option.

    PyMySQL 1.2 and later try TLS whenever none is configured ("preferred"),
    building a new TLS context for every connection: about 20 ms of CPU each
    (a fresh process's first call, a pool refill), for nothing on a Unix socket
    or loopback. A URL that names any ``ssl`` option is left as it is.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return url
    if parsed.drivername != "mysql+pymysql" or parsed.host not in _LOCAL_HOSTS or any(
            key.startswith("ssl") for key in parsed.query):
        return url
    return parsed.update_query_dict({"ssl_disabled": "1"}).render_as_string(
        hide_password=False)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_file(url: str) -> str | None:
    u = sa.engine.make_url(url)
    if u.database in (None, "", ":memory:"):
        return None
    return u.database


#: True inside :meth:`Database.writer`, False inside :meth:`Database.reader`.
_WRITING: contextvars.ContextVar[bool] = contextvars.ContextVar("naas_db_writing",
                                                               default=False)
#: What SQLite is sent to open a transaction of each kind.
BEGIN_FOR_WRITER, BEGIN_FOR_READER = "BEGIN IMMEDIATE", "BEGIN"


def _begin_by_kind(engine: sa.engine.Engine) -> None:
    """Open write transactions with ``BEGIN IMMEDIATE`` and reads with a plain ``BEGIN``.

    A deferred transaction that reads and then writes fails at once with
    "database is locked" when another process committed in between (a WAL
    snapshot conflict that no busy wait can save); taking the write lock at
    BEGIN makes the writer wait there instead, within ``busy_timeout``. Reads
    keep a deferred BEGIN so they never queue behind writers. oslo.db emits
    its own plain BEGIN from a listener on the same event, which would run
    first; it is replaced by this one (the same ``in_transaction`` marker,
    which oslo.db's commit and rollback listeners clear).
    """
    for listener in list(engine.dispatch.begin):
        if getattr(listener, "__name__", "") == "_sqlite_emit_begin":
            sa.event.remove(engine, "begin", listener)

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001 - SQLAlchemy connection
        if "in_transaction" not in conn.info:
            conn.exec_driver_sql(BEGIN_FOR_WRITER if _WRITING.get() else BEGIN_FOR_READER)
            conn.info["in_transaction"] = True


def _tune_sqlite(engine: sa.engine.Engine) -> wal.Checkpointer | None:
    """Pool, BEGIN, PRAGMAs and log checkpoints of a SQLite engine; returns the
    checkpointer of a file's log."""
    file_based = _sqlite_file(str(engine.url)) is not None
    if file_based and isinstance(engine.pool, sa.pool.NullPool):
        # oslo.db gives file databases a NullPool: a new connection (and its
        # PRAGMAs) per transaction, which costs more than the transaction.
        # Keep connections; each serves one thread at a time.
        old = engine.pool
        engine.pool = sa.pool.QueuePool(
            old._creator, pool_size=5, max_overflow=10, timeout=30,
            reset_on_return=old._reset_on_return, dialect=old._dialect,
            _dispatch=old.dispatch)

    checkpointer = None
    if file_based:
        _begin_by_kind(engine)
        checkpointer = _checkpoint_aside(engine)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        if file_based:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            # 32 MiB of page cache per connection (SQLite's default is 2 MiB):
            # a host's whole port table and its indexes stay in memory.
            cur.execute("PRAGMA cache_size = -32768")
            # The log is checkpointed by a thread (see naas_lib.db.wal); a caller
            # does it only when that thread falls far behind.
            cur.execute(f"PRAGMA wal_autocheckpoint = {wal.BACKSTOP_PAGES}")
        cur.close()

    return checkpointer


def _checkpoint_aside(engine: sa.engine.Engine) -> wal.Checkpointer:
    """Count the file's commits for a :class:`~naas_lib.db.wal.Checkpointer` (stopped by
    :meth:`Database.dispose`)."""
    checkpointer = wal.Checkpointer(_sqlite_file(str(engine.url)))
    # Only write transactions grow the log; a reader's COMMIT is not counted.
    sa.event.listen(engine, "commit",
                    lambda _conn: checkpointer.committed() if _WRITING.get() else None)
    return checkpointer


@contextlib.contextmanager
def typed_outages() -> Iterator[None]:
    """Turn a lost or refused database connection into ``DatabaseUnavailable``.

    Classified by what the driver reports (see :mod:`naas_lib.db.retry`), so
    a caller sees a ``NaasError`` that says the request is safe to retry; a
    retry decorator around the transaction still recognises it. Lost races
    keep their oslo.db types here: the retry decorator needs them as they are.
    """
    try:
        yield
    except exc.NaasError:
        raise
    except Exception as e:
        if db_retry.classify(e) == db_retry.UNAVAILABLE:
            raise db_retry.translate(e) from e
        raise


def _tolerate_rollback_after_abort(engine: sa.engine.Engine) -> None:
    """Let a ROLLBACK that fails with a lost-race error count as done.

    On Galera a transaction aborted by a conflicting write set (brute-force
    abort, error 1213) reports the abort again on the client's ROLLBACK. The
    server has rolled it back already; raising would make oslo.db's
    enginefacade log the original, retryable error as an ERROR traceback
    ("Original exception being dropped") and replace it with the rollback's.
    """
    rollback = engine.dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        except Exception as e:
            if db_retry.classify(e) != db_retry.CONFLICT:
                raise

    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]


class Database:
    """Transactions against one database URL."""

    def __init__(self, url: str, **engine_options) -> None:
        self.url = url
        if is_sqlite(url):
            path = _sqlite_file(url)
            if path is not None:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._facade = enginefacade.transaction_context()
        if is_sqlite(url) and _sqlite_file(url) is not None and "check_same_thread" not in url:
            # Pooled connections move between threads (never used by two at once).
            url += ("&" if "?" in url else "?") + "check_same_thread=false"
        # thread_checkin makes oslo.db sleep(0) on every connection return, an
        # eventlet-era yield that only costs a thread scheduler round here.
        options = {"connection": without_local_tls(url), "sqlite_fk": True,
                   "thread_checkin": False}
        options.update(engine_options)
        self._facade.configure(**options)
        #: Checkpoints an embedded file's log (:mod:`naas_lib.db.wal`); None elsewhere.
        self.checkpointer: wal.Checkpointer | None = None
        if is_sqlite(url):
            self._facade.append_on_engine_create(self._sqlite_engine_made)
        else:
            self._facade.append_on_engine_create(_tolerate_rollback_after_abort)

    def _sqlite_engine_made(self, engine: sa.engine.Engine) -> None:
        self.checkpointer = _tune_sqlite(engine)

    @property
    def engine(self) -> sa.engine.Engine:
        return self._facade.writer.get_engine()

    def writer(self) -> contextlib.AbstractContextManager[orm.Session]:
        """A read-write transaction committed on normal exit, rolled back on error."""
        return self._transaction(writing=True)

    def reader(self) -> contextlib.AbstractContextManager[orm.Session]:
        """A read-only transaction (on SQLite a deferred one: it takes no write lock)."""
        return self._transaction(writing=False)

    @contextlib.contextmanager
    def core_writer(self) -> Iterator[sa.Connection]:
        """:meth:`writer` on a plain connection, for paths that run Core statements only.

        The same BEGIN (IMMEDIATE on an embedded file), error translation and
        outage typing as :meth:`writer`, without an ORM session around it
        (about half of a short transaction's fixed cost, see
        ``benchmarks/bench_txn_overhead.py``).
        """
        token = _WRITING.set(True)
        try:
            with typed_outages(), self.engine.begin() as conn:
                yield conn
        finally:
            _WRITING.reset(token)

    @contextlib.contextmanager
    def _transaction(self, writing: bool) -> Iterator[orm.Session]:
        token = _WRITING.set(writing)
        try:
            kind = self._facade.writer if writing else self._facade.reader
            with typed_outages(), kind.using(_Scope()) as session:
                yield session
        finally:
            _WRITING.reset(token)

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self._facade.dispose_pool()
