"""Which database failures are retried, how often, and what the caller sees at the end."""

from __future__ import annotations

import logging
import sqlite3

import psycopg2
import pymysql
import pytest
import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import exceptions as exc
from naas_lib.db import retry as db_retry


def _sa(orig: BaseException, invalidated: bool = False) -> sa.exc.DBAPIError:
    return sa.exc.OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


def _sqlite_busy(tmp_path) -> sqlite3.OperationalError:
    path = str(tmp_path / "busy.sqlite")
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        first.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as info:
            second.execute("BEGIN IMMEDIATE")
        return info.value
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("error, kind", [
    (pymysql.err.OperationalError(2003, "x"), db_retry.UNAVAILABLE),
    (pymysql.err.OperationalError(2006, "x"), db_retry.UNAVAILABLE),
    (pymysql.err.OperationalError(2013, "x"), db_retry.UNAVAILABLE),
    (pymysql.err.InternalError(1047, "WSREP has not yet prepared node"), db_retry.UNAVAILABLE),
    (pymysql.err.InterfaceError(0, ""), db_retry.UNAVAILABLE),
    (pymysql.err.OperationalError(1213, "x"), db_retry.CONFLICT),
    (pymysql.err.IntegrityError(1062, "x"), None),
    (pymysql.err.DataError(1406, "x"), None),
    (psycopg2.OperationalError("no SQLSTATE: libpq failed"), db_retry.UNAVAILABLE),
    (_sa(Exception("any driver"), invalidated=True), db_retry.UNAVAILABLE),
    (_sa(pymysql.err.OperationalError(2013, "x")), db_retry.UNAVAILABLE),
    (db_exc.DBConnectionError(), db_retry.UNAVAILABLE),
    (db_exc.DBDeadlock(), db_retry.CONFLICT),
    (db_exc.RetryRequest(ValueError()), db_retry.CONFLICT),
    (exc.ConcurrentModification(resource="r", resource_id="1"), db_retry.CONFLICT),
    (exc.DatabaseUnavailable(), db_retry.UNAVAILABLE),
    (exc.PortNotFound(port_id="p"), None),
    (ValueError("database is locked"), None),  # text alone means nothing
])
def test_classify_by_codes_not_text(error, kind):
    assert db_retry.classify(error) == kind


def test_sqlite_busy_is_a_conflict(tmp_path):
    assert db_retry.classify(_sqlite_busy(tmp_path)) == db_retry.CONFLICT


def test_classify_follows_wrapped_errors():
    try:
        try:
            raise pymysql.err.OperationalError(2006, "MySQL server has gone away")
        except pymysql.err.OperationalError as inner:
            raise db_exc.DBError(inner) from inner
    except db_exc.DBError as outer:
        assert db_retry.classify(outer) == db_retry.UNAVAILABLE


def test_translate_gives_naas_errors():
    down = db_retry.translate(_sa(pymysql.err.OperationalError(2003, "refused")))
    assert isinstance(down, exc.DatabaseUnavailable) and isinstance(down, exc.NaasError)
    assert "safe to retry" in str(down) and "refused" not in str(down)
    assert down.kind == "unavailable" and down.retry_after > 0
    lost = db_retry.translate(db_exc.DBDeadlock())
    assert isinstance(lost, exc.ConcurrentModification) and lost.kind == "conflict"
    assert db_retry.translate(KeyError("x")) is None


def _no_sleep(_seconds: float) -> None:
    pass


def test_conflicts_retry_then_raise_typed_error_with_one_warning(caplog):
    calls = []

    def txn():
        calls.append(1)
        raise db_exc.DBDeadlock()

    with caplog.at_level(logging.DEBUG, logger="naas_lib.db.retry"):
        with pytest.raises(exc.ConcurrentModification):
            db_retry.retrying(max_retries=3, sleep=_no_sleep)(txn)()
    assert len(calls) == 4
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert warnings[0].exc_info is None


def test_success_after_conflicts_returns_the_value():
    results = iter([db_exc.DBDeadlock(), db_exc.RetryRequest(ValueError()), "done"])

    def txn():
        value = next(results)
        if isinstance(value, Exception):
            raise value
        return value

    assert db_retry.retrying(sleep=_no_sleep)(txn)() == "done"


def test_outage_retried_for_bounded_time():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    def txn():
        raise _sa(pymysql.err.OperationalError(2003, "refused"))

    with pytest.raises(exc.DatabaseUnavailable):
        db_retry.retrying(unavailable_timeout=5.0, sleep=sleep, clock=lambda: now[0])(txn)()
    assert 5.0 <= now[0] <= 6.0
    assert max(slept) <= db_retry.OUTAGE_MAX_INTERVAL and len(slept) >= 5


def test_other_errors_pass_unchanged_and_nested_calls_do_not_multiply():
    calls = []

    @db_retry.retrying(max_retries=2, sleep=_no_sleep)
    def inner():
        calls.append("inner")
        raise db_exc.DBDeadlock()

    @db_retry.retrying(max_retries=2, sleep=_no_sleep)
    def outer():
        calls.append("outer")
        inner()

    with pytest.raises(exc.ConcurrentModification):
        outer()
    assert calls == ["outer", "inner"] * 3

    @db_retry.retrying(sleep=_no_sleep)
    def not_found():
        raise exc.PortNotFound(port_id="p")

    with pytest.raises(exc.PortNotFound):
        not_found()


def test_conflict_hooks_run_between_attempts_only_after_a_lost_race():
    seen: list[str] = []
    outcomes = iter([db_exc.DBDeadlock(), ValueError("final"), None])

    @db_retry.retrying(max_retries=3, sleep=lambda _: None)
    def transaction() -> str:
        attempt = len(seen)
        db_retry.on_conflict(lambda e: seen.append(f"hook after {type(e).__name__}"))
        db_retry.on_conflict(lambda e: seen.append("keyed"), key="k")
        db_retry.on_conflict(lambda e: seen.append("same key: never"), key="k")
        seen.append(f"attempt {attempt}")
        error = next(outcomes)
        if error is not None:
            raise error
        return "done"

    with pytest.raises(ValueError):
        transaction()
    # The hook of the attempt that lost ran before the next attempt; the one of
    # the attempt that failed otherwise never ran.
    assert seen == ["attempt 0", "hook after DBDeadlock", "keyed", "attempt 3"]
    db_retry.on_conflict(lambda e: seen.append("outside"))  # not in a retried call: ignored
    assert transaction() == "done" and seen[-1] == "attempt 4"
