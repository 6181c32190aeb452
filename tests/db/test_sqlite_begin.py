"""The embedded SQLite file: writers take the lock at BEGIN, readers never do.

A deferred write transaction that reads first fails at once with "database is
locked" when another process commits in between; ``BEGIN IMMEDIATE`` makes it
wait at BEGIN instead. Reads stay deferred so they never queue behind writers.
"""

from __future__ import annotations

import multiprocessing

import sqlalchemy as sa

from naas_lib.db import api as db_api

WORKERS, ROUNDS = 4, 60


def _begins(db: db_api.Database) -> list[str]:
    seen: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute",
                    lambda conn, cur, stmt, *a: seen.append(stmt) if "BEGIN" in stmt else None)
    return seen


def test_writers_begin_immediate_and_readers_begin_deferred(tmp_path):
    db = db_api.Database(f"sqlite:///{tmp_path / 'begin.sqlite'}")
    try:
        seen = _begins(db)
        with db.writer() as session:
            session.execute(sa.text("SELECT 1"))
            with db.reader() as inner:  # a read inside a write must not wait for it
                inner.execute(sa.text("SELECT 1"))
        with db.reader() as session:
            session.execute(sa.text("SELECT 1"))
        with db.writer() as session:
            session.execute(sa.text("SELECT 1"))
        assert seen == [db_api.BEGIN_FOR_WRITER, db_api.BEGIN_FOR_READER,
                        db_api.BEGIN_FOR_READER, db_api.BEGIN_FOR_WRITER]
        assert db_api.BEGIN_FOR_WRITER == "BEGIN IMMEDIATE"
    finally:
        db.dispose()


def _writer(url: str, worker: int, errors) -> None:
    db = db_api.Database(url)
    try:
        for i in range(ROUNDS):
            try:
                with db.writer() as session:
                    # Read, then write: the shape that fails with a deferred BEGIN.
                    n = session.execute(sa.text("SELECT count(*) FROM t")).scalar_one()
                    session.execute(sa.text("INSERT INTO t (w, i, seen) VALUES (:w, :i, :n)"),
                                    {"w": worker, "i": i, "n": n})
            except Exception as e:  # recorded, not raised: the test counts them
                errors.put(f"{type(e).__name__}: {e}"[:200])
    finally:
        db.dispose()


def test_concurrent_writer_processes_never_see_database_is_locked(tmp_path):
    url = f"sqlite:///{tmp_path / 'writers.sqlite'}"
    db = db_api.Database(url)
    with db.writer() as session:
        session.execute(sa.text("CREATE TABLE t (w INTEGER, i INTEGER, seen INTEGER)"))
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, w, errors)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    with db.reader() as session:
        rows = session.execute(sa.text("SELECT count(*), count(DISTINCT seen) FROM t")).one()
    db.dispose()
    assert found == []
    assert all(p.exitcode == 0 for p in procs)
    # Every transaction saw all the ones before it: serialized, none lost.
    assert rows == (WORKERS * ROUNDS, WORKERS * ROUNDS)
