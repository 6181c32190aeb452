"""A lock-free allocator of integers from ranges, backed by two tables.

Each range row holds ``first_key``, ``last_key`` and ``next_key``, the
high-water mark: values at or above it were never handed out. Released
values below it go to a free table. Taking a value is either popping one
free row or moving the mark by one with a compare-and-swap ``UPDATE``; both
are a constant number of index operations, whatever the size of the range
or how full it is. No row is ever read ``FOR UPDATE`` (Galera does not
honour it across nodes): the loser of a race sees ``rowcount == 0`` and the
whole operation is retried through oslo.db's ``RetryRequest``. The owning
table's unique constraint remains the final judge; the ranges are a way to
find a candidate quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib.ipam.addresses import from_key, to_key

_UNKNOWN = object()


def _lost_race(what: str) -> exc.ConcurrentModification:
    """What the caller sees if every retry lost the race (a typed conflict)."""
    return exc.ConcurrentModification(resource="Allocation", resource_id=what)


class RangeAllocator:
    """Allocate and release values of ranges in ``range_table`` / ``free_table``.

    ``free_table`` has a foreign key to the range (``free_range_col``) and the
    released value (``free_key_col``). Statements are built once and reused
    with bound parameters: this sits on the hot path of every port.
    """

    def __init__(self, range_table: sa.Table, free_table: sa.Table, free_range_col: str,
                 free_key_col: str) -> None:
        free_range = free_table.c[free_range_col]
        self.free_key = free_key = free_table.c[free_key_col]
        self._free_range_name, self._free_key_name = free_range_col, free_key_col
        self._free_table = free_table
        self._first_free = (sa.select(free_key).where(free_range == sa.bindparam("r"))
                            .order_by(free_key).limit(1))
        self.first_free_of = lambda range_id_col: (
            sa.select(sa.func.min(free_key)).where(free_range == range_id_col)
            .scalar_subquery())
        self._take_free = sa.delete(free_table).where(free_range == sa.bindparam("r"),
                                                      free_key == sa.bindparam("k"))
        self._find_free = sa.select(free_key).where(free_range == sa.bindparam("r"),
                                                    free_key == sa.bindparam("k"))
        self._move_mark = (sa.update(range_table)
                           .where(range_table.c.id == sa.bindparam("r"),
                                  range_table.c.next_key == sa.bindparam("old"))
                           .values(next_key=sa.bindparam("new")))

    def allocate(
        self,
        session: orm.Session,
        ranges: Iterable[Any],
        is_taken: Callable[[int], bool],
    ) -> tuple[Any, int] | None:
        """Take a free value from the first range that has one.

        ``ranges`` are rows with ``id``, ``last_key`` and ``next_key`` (and,
        when the caller fetched it already, ``free_key``: the lowest released
        value or None) in the order to try. ``is_taken`` says whether a
        candidate is held already (a value requested explicitly above the
        mark, or a stale free row); such candidates are skipped. Returns
        (range id, value) or None when every range is exhausted.
        """
        conn = session.connection()
        for rng in ranges:
            found = self._allocate_from(conn, rng, is_taken)
            if found is not None:
                return rng.id, found
        return None

    def _allocate_from(self, conn: sa.engine.Connection, rng: Any, is_taken) -> int | None:
        # Released values first, so addresses are reused before the mark moves.
        key = getattr(rng, "free_key", _UNKNOWN)
        if key is _UNKNOWN:
            key = conn.execute(self._first_free, {"r": rng.id}).scalar()
        while key is not None:
            if conn.execute(self._take_free, {"r": rng.id, "k": key}).rowcount != 1:
                raise db_exc.RetryRequest(_lost_race(f"free value {key}"))
            if not is_taken(from_key(key)):
                return from_key(key)
            key = conn.execute(self._first_free, {"r": rng.id}).scalar()
        next_key = rng.next_key
        while next_key is not None:
            value = from_key(next_key)
            new_key = None if next_key == rng.last_key else to_key(value + 1)
            moved = conn.execute(self._move_mark,
                                 {"r": rng.id, "old": next_key, "new": new_key}).rowcount
            if moved != 1:
                raise db_exc.RetryRequest(_lost_race(f"high-water mark of range {rng.id}"))
            if not is_taken(value):
                return value
            next_key = new_key
        return None

    def claim(self, session: orm.Session, range_id: Any, value: int) -> None:
        """A value taken explicitly leaves the free list (the mark skips it later)."""
        session.connection().execute(self._take_free, {"r": range_id, "k": to_key(value)})

    def release(self, session: orm.Session, range_id: Any, value: int) -> None:
        """Return a value; it is listed as free even above the mark, so none is ever lost."""
        conn = session.connection()
        key = to_key(value)
        if conn.execute(self._find_free, {"r": range_id, "k": key}).first() is None:
            conn.execute(sa.insert(self._free_table),
                         {self._free_range_name: range_id, self._free_key_name: key})
