"""Shared helpers of the benchmark scripts: where files go, how figures print."""

from __future__ import annotations

import os
import statistics
import tempfile

import sqlalchemy as sa

BENCH_DIR = os.environ.get("NAAS_BENCH_DIR", os.path.join(tempfile.gettempdir(), "naas-bench"))


def fresh_sqlite(name: str) -> str:
    """URL of an empty SQLite file in BENCH_DIR (old files are removed)."""
    os.makedirs(BENCH_DIR, exist_ok=True)
    path = os.path.join(BENCH_DIR, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    return f"sqlite:///{path}"


def tune_sqlite(engine: sa.engine.Engine) -> None:
    """The same pragmas naas_lib applies to its embedded file (naas_lib.db.api)."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        # 32 MiB of page cache per connection (SQLite's default is 2 MiB):
        # a host's whole port table and its indexes stay in memory.
        cur.execute("PRAGMA cache_size = -32768")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "mean": statistics.fmean(ordered)}


def report(label: str, value_us: float, floor_us: float | None = None, target: float | None = None
           ) -> None:
    line = f"{label:<48} {value_us:10.1f} us"
    if floor_us:
        ratio = value_us / floor_us
        line += f"   ratio to floor {ratio:5.2f}x"
        if target is not None:
            line += f" (target <= {target}x: {'met' if ratio <= target else 'MISSED'})"
    print(line, flush=True)
