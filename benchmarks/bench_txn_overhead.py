"""The fixed cost of one transaction: the library's oslo.db enginefacade vs a bare engine.

Each variant runs ``count`` transactions of one ``SELECT 1``-sized statement
(a port-row lookup by primary key) on the same embedded SQLite file with the
same pragmas, in alternating rounds; medians of the rounds are printed, wall
and CPU time (CPU time is what the layer costs; wall time also has the other
processes of a shared machine in it).

* ``bare``: ``engine.begin()`` on a plain SQLAlchemy engine (the floor);
* ``facade writer`` / ``facade reader``: ``Database.writer()`` / ``.reader()``
  (enginefacade scope, ORM session, BEGIN IMMEDIATE / BEGIN, typed outages);
* ``retrying writer``: the writer inside the library's retry decorator, as
  every write operation runs it;
* ``session on the facade's engine``: a plain ``orm.Session`` on the engine
  oslo.db made (its error translation, the library's BEGIN IMMEDIATE
  listener) without enginefacade's transaction scope: what replacing only
  the scope would save;
* ``connection on the facade's engine``: ``engine.begin()`` on that engine,
  no ORM session: the cost of oslo.db's engine listeners alone.

    python -m benchmarks.bench_txn_overhead [--count 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import orm

from benchmarks import _util
from naas_lib.db import api as db_api
from naas_lib.db import migration, models
from naas_lib.db import retry as db_retry

_QUERY = sa.select(models.Port.__table__.c.id).where(models.Port.__table__.c.id == "missing")


def _timed(count: int, body: Callable[[], None]) -> tuple[float, float]:
    """(wall, cpu) seconds per call of ``body``."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(count):
        body()
    return (time.perf_counter() - w0) / count, (time.process_time() - c0) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = _util.fresh_sqlite("txn_overhead.sqlite")
    db = db_api.Database(url)
    migration.upgrade(db.engine)
    bare = sa.create_engine(url)
    _util.tune_sqlite(bare)

    def bare_txn() -> None:
        with bare.begin() as conn:
            conn.execute(_QUERY).first()

    def writer() -> None:
        with db.writer() as session:
            session.connection().execute(_QUERY).first()

    def reader() -> None:
        with db.reader() as session:
            session.connection().execute(_QUERY).first()

    retrying = db_retry.retrying()(writer)

    def plain_session() -> None:
        token = db_api._WRITING.set(True)
        try:
            with orm.Session(bind=db.engine) as session, session.begin():
                session.connection().execute(_QUERY).first()
        finally:
            db_api._WRITING.reset(token)
    def facade_engine() -> None:
        token = db_api._WRITING.set(True)
        try:
            with db.engine.begin() as conn:
                conn.execute(_QUERY).first()
        finally:
            db_api._WRITING.reset(token)

    variants: list[tuple[str, Callable[[], None]]] = [
        ("bare engine.begin()", bare_txn), ("facade writer", writer), ("facade reader", reader),
        ("retrying facade writer", retrying), ("session on the facade's engine", plain_session),
        ("connection on the facade's engine", facade_engine)]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in variants}
    for _ in range(args.rounds):
        for name, body in variants:
            _timed(min(200, args.count), body)  # warm
            results[name].append(_timed(args.count, body))
    floor_wall = statistics.median(w for w, _ in results[variants[0][0]])
    floor_cpu = statistics.median(c for _, c in results[variants[0][0]])
    print(f"{args.count} transactions x {args.rounds} rounds, one PK lookup each ({url})")
    for name, _ in variants:
        wall = statistics.median(w for w, _ in results[name])
        cpu = statistics.median(c for _, c in results[name])
        _util.report(f"{name}: wall per transaction", wall * 1e6, floor_wall * 1e6)
        _util.report(f"{name}: CPU per transaction", cpu * 1e6, floor_cpu * 1e6)
    bare.dispose()
    db.dispose()


if __name__ == "__main__":
    main()
