"""Contention every process sees: the pools' ``hot_until`` in the database.

A process learns that a network is contended from a race it lost itself
(:mod:`naas_lib.ipam.contention`); until then its writers all take the
lowest lane and collide there. So the loser also records it on the network's
pools (``allocation_pools.hot_until``, Unix seconds), and every allocation
reads that column with the pools it reads anyway: the writers of every other
process and node spread over the lanes from their next allocation on.

The mark is written after the lost attempt was rolled back, on the
connection it gave back to the pool (:func:`naas_lib.db.retry.on_conflict`),
committed at once: the port's transaction writes no row shared with other
writers, and no new connection is opened (a driver's connect can cost tens of
milliseconds of CPU, e.g. PyMySQL building an SSL context). At most once per
half hot period per pool (a conditional ``UPDATE``). It is advisory: a failed
or lost write is ignored. Not on SQLite, whose single writer lock no spreading
can help.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib.db import models

LOG = logging.getLogger(__name__)

_P = models.AllocationPool.__table__
_MARK = (sa.update(_P)
         .where(_P.c.id.in_(sa.bindparam("ids", expanding=True)),
                sa.or_(_P.c.hot_until.is_(None), _P.c.hot_until < sa.bindparam("renew")))
         .values(hot_until=sa.bindparam("until")))
#: Seconds the marking statement may wait for a row lock (a transaction that
#: released an address holds the pool row shared until it commits).
LOCK_WAIT_SECONDS = 1


def remaining(hot_until: int | None, now: float | None = None) -> float:
    """Seconds a pool stays hot from ``hot_until`` (0 when not hot)."""
    if hot_until is None:
        return 0.0
    return max(0.0, hot_until - (time.time() if now is None else now))


def mark(engine: sa.engine.Engine, pool_ids: Sequence[int], seconds: float) -> bool:
    """Record on ``pool_ids`` that they are contended for ``seconds``; True if written.

    Pools whose mark lasts more than half of that already are left alone, so
    concurrent losers rarely write the same rows.
    """
    if not pool_ids or engine.dialect.name == "sqlite":
        return False
    now = time.time()
    params = {"ids": list(pool_ids), "until": int(now + seconds),
              "renew": int(now + seconds / 2)}
    try:
        with engine.connect() as conn:
            return _write(conn, params)
    except (sa.exc.SQLAlchemyError, db_exc.DBError) as e:
        # Another process marked them at the same moment, or the database is
        # busy: the allocation goes on either way.
        LOG.debug("pools %s not marked hot: %s", list(pool_ids), type(e).__name__)
        return False


def _write(conn: sa.engine.Connection, params: dict) -> bool:
    name = conn.dialect.name
    try:
        with conn.begin():
            if name == "mysql":
                conn.execute(sa.text(
                    f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS}"))
            elif name == "postgresql":
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
            return conn.execute(_MARK, params).rowcount > 0
    finally:
        if name == "mysql":  # a pooled connection: later transactions wait as usual
            with conn.begin():
                conn.execute(sa.text("SET SESSION innodb_lock_wait_timeout = DEFAULT"))
