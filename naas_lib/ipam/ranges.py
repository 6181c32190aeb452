"""A lock-free allocator of integers from ranges, backed by three tables.

Each range row holds ``first_key``, ``last_key`` and ``next_key``. Its
values at or above ``next_key`` are handed out through ``LANES`` lanes, each
a row with its own high-water mark: lane ``j`` owns ``next_key + j``,
``next_key + j + LANES``, ... Released values go to a free table. Taking a
value is popping one free row or moving one lane's mark by one step with a
compare-and-swap ``UPDATE``; both are a constant number of index operations,
whatever the size of the range or how full it is.

Why lanes: with a single mark every writer of a pool updates the same row,
and on Galera (which certifies whole write sets at COMMIT) concurrent
writers on different nodes then fail and retry in a queue. A writer alone
takes the lowest lane, so it still gets the lowest address never handed
out; writers that know they are contending (``spread``) take the lane and
the free value their own pick points to, so they update different rows.
A writer that lost a race moves to one of the least advanced lanes: the
lanes other contending writers are moving are the advanced ones.

No row is ever read ``FOR UPDATE`` (Galera does not honour it across nodes):
the loser of a race sees ``rowcount == 0`` and the whole operation is
retried through oslo.db's ``RetryRequest``. The owning table's unique
constraint remains the final judge; the ranges only find a candidate quickly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib.db import batch
from naas_lib.ipam.addresses import from_key, to_key

_UNKNOWN = object()

#: Marks per range. More lanes spread contending writers over more rows; a
#: writer alone reads them all once per allocation (one indexed query).
LANES = 16
#: Lanes one allocation tries before it gives up and the transaction runs again.
LANE_TRIES = 3


@dataclasses.dataclass
class Spread:
    """Where a writer that contends with others takes its values.

    ``value`` chooses its lane (``value % LANES``) and one of the lowest free
    values. ``moving`` says it has just lost a race: it then reads the open
    lanes and moves to one of the least advanced half of them (lanes no other
    writer is busy moving), and ``value`` is updated to keep that lane.
    """

    value: int
    moving: bool = False

    def settle(self, lane: int) -> None:
        self.value += lane - self.value % LANES
        self.moving = False


def _lost_race(what: str) -> exc.ConcurrentModification:
    """What the caller sees if every retry lost the race (a typed conflict)."""
    return exc.ConcurrentModification(resource="Allocation", resource_id=what)


class RangeAllocator:
    """Allocate and release values of ranges in ``range_table`` / ``free_table``.

    ``free_table`` has a foreign key to the range (``free_range_col``) and the
    released value (``free_key_col``); ``lane_table`` has ``pool_id``, ``lane``
    and ``next_key``. Without a lane table the range's own ``next_key`` is
    its single mark (segment ranges, allocated rarely). Statements are built once and reused
    with bound parameters: this sits on the hot path of every port.
    """

    def __init__(self, range_table: sa.Table, free_table: sa.Table, free_range_col: str,
                 free_key_col: str, lane_table: sa.Table | None = None) -> None:
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
        self._lowest_free = (sa.select(free_key).where(free_range == sa.bindparam("r"))
                             .order_by(free_key).limit(LANES))
        #: For the caller's prefetch under contention: the free value a pick
        #: points to (NULL when the range has fewer released values than that).
        self.picked_free_of = lambda range_id_col: (
            sa.select(free_key).where(free_range == range_id_col).order_by(free_key)
            .limit(1).offset(sa.bindparam("pick_free", type_=sa.Integer)).scalar_subquery())
        self._lane_table = lane_table
        self._step = 1 if lane_table is None else LANES
        if lane_table is not None:
            #: For the caller's prefetch: the lowest open lane's next value (NULL
            #: when the range has no lanes yet or all of them are used up).
            self.lowest_lane_of = lambda range_id_col: (
                sa.select(sa.func.min(lane_table.c.next_key))
                .where(lane_table.c.pool_id == range_id_col).scalar_subquery())
            #: ... and the picked lane's next value (NULL when used up or not made yet).
            self.picked_lane_of = lambda range_id_col: (
                sa.select(lane_table.c.next_key)
                .where(lane_table.c.pool_id == range_id_col,
                       lane_table.c.lane == sa.bindparam("pick_lane", type_=sa.Integer))
                .scalar_subquery())
        if lane_table is None:
            self._move_mark = (sa.update(range_table)
                               .where(range_table.c.id == sa.bindparam("r"),
                                      range_table.c.next_key == sa.bindparam("old"))
                               .values(next_key=sa.bindparam("new")))
        else:
            self._lanes = (sa.select(lane_table.c.lane, lane_table.c.next_key)
                           .where(lane_table.c.pool_id == sa.bindparam("r")))
            self._move_mark = (sa.update(lane_table)
                               .where(lane_table.c.pool_id == sa.bindparam("r"),
                                      lane_table.c.lane == sa.bindparam("j"),
                                      lane_table.c.next_key == sa.bindparam("old"))
                               .values(next_key=sa.bindparam("new")))

    @staticmethod
    def picks(spread: Spread) -> dict[str, int]:
        """Bound parameters of ``picked_lane_of`` / ``picked_free_of`` for ``spread``."""
        return {"pick_lane": spread.value % LANES, "pick_free": spread.value // LANES % LANES}

    def allocate(
        self,
        session: orm.Session,
        ranges: Iterable[Any],
        is_taken: Callable[[int], bool],
        spread: Spread | None = None,
        on_lost: Callable[[], Spread] | None = None,
    ) -> tuple[Any, int] | None:
        """Take a free value from the first range that has one.

        ``ranges`` are rows with ``id``, ``last_key`` and ``next_key`` (and,
        when the caller fetched it already, ``free_key``: the lowest released
        value or None) in the order to try. ``is_taken`` says whether a
        candidate is held already (a value requested explicitly above the
        mark, or a stale free row); such candidates are skipped. ``spread``
        (the caller is contending with other writers) chooses a lane and one
        of the lowest free values instead of the lowest. ``on_lost`` is called
        when a lane was lost to another writer and returns the spread to use
        from then on (see :meth:`_from_lanes`). Returns (range id, value) or
        None when every range is exhausted.
        """
        conn = session.connection()
        for rng in ranges:
            found = self._allocate_from(conn, rng, is_taken, spread, on_lost)
            if found is not None:
                return rng.id, found
        return None

    def take_prefetched(self, conn: sa.engine.Connection, ranges: Sequence[Any]
                        ) -> list[int | None]:
        """For each range, take the value a writer alone takes, known from the prefetch.

        ``ranges`` are rows prefetched with ``free_key`` and ``lane_key``
        (see :meth:`allocate`). Each gets its lowest released value, else its
        lowest lane's next value: the same values :meth:`allocate` takes
        without a spread, with one ``DELETE`` for all the released values and
        one compare-and-swap ``UPDATE`` for all the moved marks (several
        networks' pools in a boot) instead of one each. None for a range whose
        prefetch cannot say (no released value and no open lane known): the
        caller allocates from it as usual. Whether a value is held already is
        the caller's check. Another writer that took one first makes the
        whole transaction run again (``RetryRequest``), as for a single range.
        """
        freed, moves, values = [], [], []
        for rng in ranges:
            key = getattr(rng, "free_key", None)
            if key is not None:
                freed.append({"r": rng.id, "k": key})
                values.append(from_key(key))
                continue
            lanes = self._prefetched_lane(rng)
            if not lanes:
                values.append(None)
                continue
            (lane, next_key), = lanes
            value = from_key(next_key)
            new = value + self._step
            moves.append({"r": rng.id, "j": lane, "old": next_key,
                          "new": None if new > from_key(rng.last_key) else to_key(new)})
            values.append(value)
        for statement, params in ((self._take_free, freed), (self._move_mark, moves)):
            if not batch.update_each(conn, statement, params):
                raise db_exc.RetryRequest(_lost_race(
                    f"one of ranges {sorted({p['r'] for p in params})}"))
        return values

    def _allocate_from(self, conn: sa.engine.Connection, rng: Any, is_taken,
                       spread: Spread | None,
                       on_lost: Callable[[], Spread] | None) -> int | None:
        # Released values first, so addresses are reused before a mark moves.
        key = self._pick_free(conn, rng, spread)
        while key is not None:
            if conn.execute(self._take_free, {"r": rng.id, "k": key}).rowcount != 1:
                raise db_exc.RetryRequest(_lost_race(f"free value {key}"))
            if not is_taken(from_key(key)):
                return from_key(key)
            key = conn.execute(self._first_free, {"r": rng.id}).scalar()
        return self._from_lanes(conn, rng, is_taken, spread, on_lost)

    def _from_lanes(self, conn: sa.engine.Connection, rng: Any, is_taken,
                    spread: Spread | None, on_lost: Callable[[], Spread] | None) -> int | None:
        """Move one lane's mark by a step; None when every lane is used up.

        A compare-and-swap that matched no row lost the lane to a writer that
        committed since this transaction's snapshot: with ``on_lost`` the
        writer turns to a least advanced lane it has not lost yet, up to
        ``LANE_TRIES`` lanes, instead of running the whole transaction again.
        """
        last = from_key(rng.last_key)
        if spread is None:
            lanes = self._prefetched_lane(rng)
        else:
            lanes = [] if spread.moving else self._picked_lane(rng, spread)
        if not lanes:
            lanes = self._lanes_of(conn, rng)
        lost: set[int] = set()
        while lanes:
            lane, next_key = self._choose(lanes, spread, rng.next_key)
            value = from_key(next_key)
            step = self._step
            new_key = None if value + step > last else to_key(value + step)
            moved = conn.execute(self._move_mark, {"r": rng.id, "j": lane, "old": next_key,
                                                   "new": new_key}).rowcount
            if moved != 1:
                lost.add(lane)
                if on_lost is None or len(lost) >= LANE_TRIES:
                    raise db_exc.RetryRequest(_lost_race(f"lane {lane} of range {rng.id}"))
                spread = on_lost()
                lanes = [x for x in self._lanes_of(conn, rng) if x[0] not in lost]
                if not lanes:  # the others are used up, not the lost ones
                    raise db_exc.RetryRequest(_lost_race(f"lane {lane} of range {rng.id}"))
                continue
            if not is_taken(value):
                return value
            if len(lanes) == 1 and self._lane_table is not None:
                # all of them now, the moved mark included
                lanes = [x for x in self._lanes_of(conn, rng) if x[0] not in lost]
                continue
            lanes = [x for x in lanes if x[0] != lane]
            if new_key is not None:
                lanes.append((lane, new_key))
        return None

    @staticmethod
    def _choose(lanes: list[tuple[int, str]], spread: Spread | None,
                base: str | None = None) -> tuple[int, str]:
        """Alone: the lowest value never handed out. Contending: the writer's own lane.

        A writer that has just lost a race (``moving``) picks among the lanes
        that have handed out the fewest values (nobody is moving them), but not
        the lowest one, where writers that do not know of the contention go.
        Counting values handed out rather than comparing marks, all untouched
        lanes are equally idle: writers that lost together draw from all of
        them instead of crowding the lowest-numbered half.
        """
        if spread is None:
            return min(lanes, key=lambda x: x[1])
        if spread.moving:
            ordered = sorted(lanes, key=lambda x: (x[1], x[0]))
            if base is None or len(ordered) < 3:
                idle = ordered[:(len(ordered) + 1) // 2]
            else:
                start = from_key(base)

                def used(lane: tuple[int, str]) -> int:
                    return (from_key(lane[1]) - start - lane[0]) // LANES

                fewest = min(used(x) for x in ordered[1:])
                idle = [x for x in ordered[1:] if used(x) == fewest]
            chosen = idle[spread.value % len(idle)]
            spread.settle(chosen[0])
            return chosen
        return sorted(lanes)[spread.value % len(lanes)]

    def _pick_free(self, conn: sa.engine.Connection, rng: Any,
                   spread: Spread | None) -> str | None:
        if spread is not None:
            picked = getattr(rng, "free_pick", _UNKNOWN)
            if picked is not None and picked is not _UNKNOWN:
                return picked
            if picked is None and getattr(rng, "free_key", _UNKNOWN) is None:
                return None  # prefetched: nothing released
            keys = conn.execute(self._lowest_free, {"r": rng.id}).scalars().all()
            return keys[spread.value % len(keys)] if keys else None
        key = getattr(rng, "free_key", _UNKNOWN)
        if key is _UNKNOWN:
            key = conn.execute(self._first_free, {"r": rng.id}).scalar()
        return key

    def _prefetched_lane(self, rng: Any) -> list[tuple[int, str]]:
        """The lowest lane from the caller's prefetch (``lane_key``): no query needed.

        A lane's number follows from its value: lanes interleave from the
        range's ``next_key``. Should that lane be used up on the way, the
        caller reads all lanes as usual.
        """
        key = getattr(rng, "lane_key", None)
        if key is None or self._lane_table is None or rng.next_key is None:
            return []
        return [((from_key(key) - from_key(rng.next_key)) % LANES, key)]

    def _picked_lane(self, rng: Any, spread: Spread) -> list[tuple[int, str]]:
        """The picked lane from the caller's prefetch (``lane_pick``), if it is open."""
        key = getattr(rng, "lane_pick", None)
        if key is None or self._lane_table is None:
            return []
        return [(spread.value % LANES, key)]

    def _lanes_of(self, conn: sa.engine.Connection, rng: Any) -> list[tuple[int, str]]:
        """The range's open lanes as (lane, next key); made on first use from ``next_key``."""
        if self._lane_table is None:
            return [] if rng.next_key is None else [(0, rng.next_key)]
        rows = conn.execute(self._lanes, {"r": rng.id}).all()
        if not rows:
            if rng.next_key is None:
                return []
            try:
                rows = self._insert_lanes(conn, rng)
            except db_exc.DBDuplicateEntry as e:  # another first writer made them
                raise db_exc.RetryRequest(_lost_race(f"lanes of range {rng.id}")) from e
        return [(j, k) for j, k in rows if k is not None]

    def _insert_lanes(self, conn: sa.engine.Connection, rng: Any) -> list[tuple[int, str | None]]:
        base, last = from_key(rng.next_key), from_key(rng.last_key)
        rows = [(j, to_key(base + j) if base + j <= last else None) for j in range(LANES)]
        conn.execute(sa.insert(self._lane_table),
                     [{"pool_id": rng.id, "lane": j, "next_key": k} for j, k in rows])
        return rows

    def make_lanes(self, session: orm.Session, rng: Any) -> None:
        """Give a new range (``id``, ``next_key``, ``last_key``) its lanes now.

        Otherwise they are made by its first automatic allocation, and every
        writer that starts on a new range at once races to insert the same rows.
        """
        if self._lane_table is not None and rng.next_key is not None:
            self._insert_lanes(session.connection(), rng)

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
