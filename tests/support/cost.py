"""The cost of a block of code as counts, not seconds: statements sent and SQLite work done.

A wall-clock or CPU-time threshold in a unit test fails on a busy machine and
passes on a fast one for code that scans a whole table. Counts do neither:

* ``statements``: every SQL statement the engine sends (SQLAlchemy's
  ``before_cursor_execute`` event), in order;
* ``steps``: virtual-machine instructions SQLite ran for them (a progress
  handler called on every instruction), so a statement that visits every row
  of a table costs more steps as the table grows, while an index lookup
  costs the same. ``None`` on other backends.

Work that never reaches the database (enumerating a /8 in Python) shows in
:func:`count_calls`: the Python and C function calls a block makes, counted
by a profile hook. Its count varies by a few in a thousand between runs, so
compare it with a margin (below twice the small case), not for equality.

Compare the cost of one operation at two sizes (10 and 1,000 ports, a /29
and a /8) to prove it does not grow with the pool::

    with count_cost(service.db.engine) as cost:
        service.create_port(ctx, network_id=net.id)
    cost.assert_same_as(cost_with_fewer_ports)
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa


@dataclasses.dataclass
class Cost:
    """What one block of code asked of the database."""

    statements: list[str] = dataclasses.field(default_factory=list)
    steps: int | None = None

    def kinds(self) -> collections.Counter[str]:
        """Statements by their first keyword (SELECT, INSERT, ...)."""
        return collections.Counter(s.split(None, 1)[0].upper() for s in self.statements)

    def assert_same_as(self, other: Cost, step_margin: int = 10) -> None:
        """The same statements, and SQLite steps within ``step_margin`` of ``other``'s.

        Values of another magnitude may take a branch of a few instructions
        more (a 128-bit address is beyond SQLite's 64-bit integers); a
        statement that visits the rows of a growing table costs at least one
        step per row, far beyond the margin when the sizes compared differ by
        hundreds.
        """
        assert self.statements == other.statements, f"{self} != {other}"
        if self.steps is not None and other.steps is not None:
            assert abs(self.steps - other.steps) <= step_margin, f"{self} != {other}"

    def __str__(self) -> str:
        return (f"{len(self.statements)} statements {dict(self.kinds())}, "
                f"{self.steps} SQLite steps")


@contextlib.contextmanager
def count_cost(engine: sa.engine.Engine) -> Iterator[Cost]:
    """Count statements (and SQLite steps) ``engine`` runs inside the block."""
    cost = Cost(steps=0 if engine.dialect.name == "sqlite" else None)
    watched: list[sqlite3.Connection] = []

    def step() -> int:
        cost.steps += 1
        return 0  # go on

    def on_execute(conn: sa.engine.Connection, cursor: Any, statement: str, *_: Any) -> None:
        cost.statements.append(statement)
        raw = conn.connection.dbapi_connection
        if cost.steps is not None and raw not in watched:
            raw.set_progress_handler(step, 1)
            watched.append(raw)

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield cost
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        for raw in watched:
            raw.set_progress_handler(None, 1)


@dataclasses.dataclass
class Calls:
    """Function calls (Python and C) made in this thread inside a block."""

    count: int = 0


@contextlib.contextmanager
def count_calls() -> Iterator[Calls]:
    """Count the function calls the current thread makes inside the block."""
    calls = Calls()
    previous = sys.getprofile()

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            calls.count += 1

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(previous)
