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

from naas_lib.ipam.addresses import from_key, to_key


class RangeAllocator:
    """Allocate and release values of ranges in ``range_table`` / ``free_table``.

    ``free_table`` has a foreign key to the range (``free_range_col``) and the
    released value (``free_key_col``).
    """

    def __init__(self, range_table: sa.Table, free_table: sa.Table, free_range_col: str,
                 free_key_col: str) -> None:
        self._ranges = range_table
        self._free = free_table
        self._free_range = free_table.c[free_range_col]
        self._free_key = free_table.c[free_key_col]

    def allocate(
        self,
        session: orm.Session,
        ranges: Iterable[Any],
        is_taken: Callable[[int], bool],
    ) -> tuple[Any, int] | None:
        """Take a free value from the first range that has one.

        ``ranges`` are rows with ``id``, ``last_key`` and ``next_key`` in the
        order to try. ``is_taken`` says whether a candidate is held already
        (a value requested explicitly above the mark, or a stale free row);
        such candidates are skipped. Returns (range id, value) or None when
        every range is exhausted.
        """
        for rng in ranges:
            found = self._allocate_from(session, rng, is_taken)
            if found is not None:
                return rng.id, found
        return None

    def _allocate_from(self, session: orm.Session, rng: Any, is_taken) -> int | None:
        # Released values first, so addresses are reused before the mark moves.
        while True:
            key = session.execute(
                sa.select(self._free_key)
                .where(self._free_range == rng.id)
                .order_by(self._free_key)
                .limit(1)
            ).scalar()
            if key is None:
                break
            gone = session.execute(
                sa.delete(self._free).where(self._free_range == rng.id, self._free_key == key)
            ).rowcount
            if gone != 1:
                raise db_exc.RetryRequest(
                    db_exc.DBError(f"free value {key} taken concurrently")
                )
            if not is_taken(from_key(key)):
                return from_key(key)
        next_key = rng.next_key
        while next_key is not None:
            value = from_key(next_key)
            new_key = None if next_key == rng.last_key else to_key(value + 1)
            moved = session.execute(
                sa.update(self._ranges)
                .where(self._ranges.c.id == rng.id, self._ranges.c.next_key == next_key)
                .values(next_key=new_key)
            ).rowcount
            if moved != 1:
                raise db_exc.RetryRequest(
                    db_exc.DBError(f"high-water mark of range {rng.id} moved concurrently")
                )
            if not is_taken(value):
                return value
            next_key = new_key
        return None

    def claim(self, session: orm.Session, range_id: Any, value: int) -> None:
        """A value taken explicitly leaves the free list (the mark skips it later)."""
        session.execute(
            sa.delete(self._free).where(
                self._free_range == range_id, self._free_key == to_key(value)
            )
        )

    def release(self, session: orm.Session, range_id: Any, value: int) -> None:
        """Return a value; it is listed as free even above the mark, so none is ever lost."""
        key = to_key(value)
        exists = session.execute(
            sa.select(self._free_key).where(self._free_range == range_id, self._free_key == key)
        ).first()
        if exists is None:
            session.execute(sa.insert(self._free).values(
                {self._free_range.key: range_id, self._free_key.key: key}))
