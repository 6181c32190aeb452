"""Checkpoints of an embedded SQLite file's write-ahead log, off the callers' threads.

In WAL mode a commit appends pages to the log without syncing it
(``synchronous = NORMAL``); the pages are copied back into the database file,
and both files synced, by a *checkpoint*. SQLite runs one by itself inside
the commit that grows the log past ``wal_autocheckpoint`` pages (1,000 by
default), so about one call in thirty on a boot's path paid 5-7 ms of disk
syncs for everyone else's writes (``benchmarks/bench_boot.py``: 2.1 ms boots
with 7 ms spikes every 25-33 boots).

:class:`Checkpointer` moves that work to a thread of its own: the commits
of write transactions are counted, and every :data:`EVERY_COMMITS` commits (or after a quiet second)
the thread runs a ``PASSIVE`` checkpoint on its own connection, which never
takes the write lock and never waits for a busy one; SQLite releases the
GIL while it copies and syncs. The log starts over at the first write after
a checkpoint that caught up with it, that is after any pause in the writes
longer than one checkpoint. Under writes without a pause it never catches
up, so the automatic checkpoint stays as a backstop at
:data:`BACKSTOP_PAGES` pages: the committing caller then pays the syncs
(what is left to copy is small, the thread copied the rest) once per
eight times as many pages as before. The backstop also bounds the log when
the thread is not running (another process's writes, a forked worker before
its first commits). The thread exits after :data:`EXIT_AFTER_IDLE_ROUNDS`
quiet seconds and starts again with the next commits;
:meth:`naas_lib.db.api.Database.dispose` stops it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

LOG = logging.getLogger(__name__)

#: Commits between two checkpoints (about SQLite's default 1,000 pages of log
#: at a boot's 15 pages per transaction).
EVERY_COMMITS = 64
#: Log pages at which a committing caller checkpoints itself (SQLite's
#: ``wal_autocheckpoint``): reached only when the thread is not keeping up.
BACKSTOP_PAGES = 8000
#: A quiet thread checkpoints what is left after this many seconds, then
#: exits after as many again without a commit.
IDLE_SECONDS = 1.0
EXIT_AFTER_IDLE_ROUNDS = 10


class Checkpointer:
    """Checkpoints one SQLite file's log from a thread of this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        #: Checkpoints run (for tests and benchmarks).
        self.checkpoints = 0
        self._commits = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False

    @property
    def pending(self) -> int:
        """Commits since the thread last checkpointed (or since the start)."""
        return self._commits

    def committed(self) -> None:
        """A transaction on the file committed: count it, wake the thread when due."""
        self._commits += 1  # advisory: a lost increment only delays a checkpoint
        if self._commits < EVERY_COMMITS:
            return
        if self._thread is None or self._pid != os.getpid():
            self._start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread (the engine is disposed); SQLite checkpoints on last close."""
        with self._lock:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._pid != os.getpid():  # a forked child: the parent's thread is not here
                self._pid, self._thread = os.getpid(), None
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"naas-wal-{os.path.basename(self.path)}")
            self._thread.start()

    def _run(self) -> None:
        conn = None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            idle = 0
            while not self._closed:
                woken = self._wake.wait(IDLE_SECONDS)
                self._wake.clear()
                if self._closed:
                    break
                if not woken and self._commits == 0:
                    idle += 1
                    if idle >= EXIT_AFTER_IDLE_ROUNDS:
                        break
                    continue
                idle = 0
                self._commits = 0
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
        except sqlite3.Error as e:
            # The file went away or is unreadable: commits checkpoint themselves
            # at the backstop, as SQLite does on its own.
            LOG.debug("WAL checkpoints of %s stopped: %s", self.path, e)
        finally:
            if conn is not None:
                conn.close()
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
