"""The embedded SQLite file's log is checkpointed by a thread, not by the callers.

A checkpoint syncs the log and the database file (5-7 ms on these disks);
SQLite runs it inside whichever commit grows the log past its threshold, so
without the thread about one boot in thirty stalls for everyone's writes.
"""

from __future__ import annotations

import os
import threading
import time

import sqlalchemy as sa

from naas_lib.db import api as db_api
from naas_lib.db import wal

PAGE = 4096
ROW = "x" * (4 * PAGE)  # every transaction appends at least four pages to the log


def _wal_threads(db: db_api.Database) -> list[threading.Thread]:
    """The checkpointing threads of ``db``'s file (named after it)."""
    name = "naas-wal-" + os.path.basename(db.checkpointer.path)
    return [t for t in threading.enumerate() if t.name == name]


def _commit_many(db: db_api.Database, count: int) -> None:
    for i in range(count):
        with db.writer() as session:
            session.execute(sa.text("INSERT INTO t (i, body) VALUES (:i, :b)"),
                            {"i": i, "b": ROW})


def _log_frames(db: db_api.Database) -> int:
    """Frames in the log now (a passive checkpoint reports them and copies nothing new)."""
    with db.engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1]


def test_the_thread_checkpoints_and_the_log_starts_over_after_a_pause(tmp_path):
    db = db_api.Database(f"sqlite:///{tmp_path / 'wal-busy.sqlite'}")
    try:
        with db.writer() as session:
            session.execute(sa.text("CREATE TABLE t (i INTEGER, body TEXT)"))
            assert session.execute(sa.text("PRAGMA wal_autocheckpoint")).scalar_one() \
                == wal.BACKSTOP_PAGES
        # Half the backstop's worth of log: no caller has checkpointed by itself.
        _commit_many(db, wal.BACKSTOP_PAGES // 2 // 5)
        assert db.checkpointer.checkpoints >= 1
        assert _wal_threads(db), "the checkpointing thread is not running"
        # After a pause the thread has copied everything back, and the next commit
        # starts the log over: its own frames are the whole log. (A disk sync that
        # outlasts the pause on a busy machine is waited out and tried again.)
        frames = None
        for _attempt in range(5):
            deadline = time.monotonic() + 10
            while db.checkpointer.pending and time.monotonic() < deadline:
                time.sleep(0.05)  # the quiet second's checkpoint of the last commits
            time.sleep(0.5)
            _commit_many(db, 1)
            frames = _log_frames(db)
            if frames < 20:
                break
        assert frames < 20, frames
    finally:
        db.dispose()
    assert not _wal_threads(db), "disposing the database leaves its checkpointing thread"


def test_no_thread_for_a_file_that_sees_few_commits(tmp_path):
    db = db_api.Database(f"sqlite:///{tmp_path / 'quiet.sqlite'}")
    try:
        with db.writer() as session:
            session.execute(sa.text("CREATE TABLE t (i INTEGER, body TEXT)"))
        _commit_many(db, wal.EVERY_COMMITS - 2)
        assert not _wal_threads(db)
        assert db.checkpointer.checkpoints == 0
    finally:
        db.dispose()
