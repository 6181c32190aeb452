"""One statement over many parameter sets, with each set's row count still checked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def update_each(conn: sa.Connection, stmt: sa.Executable, rows: Sequence[dict[str, Any]]) -> bool:
    """Run ``stmt`` once per row; whether every row matched exactly one row.

    One statement for all of them where the backend counts the rows of a
    batch (SQLite, MySQL), else one per row, stopping at the first miss (the
    caller's transaction is undone). For compare-and-swap updates and deletes
    by key, where a miss means another writer got there first.
    """
    if len(rows) > 1 and conn.dialect.supports_sane_multi_rowcount:
        return conn.execute(stmt, list(rows)).rowcount == len(rows)
    return all(conn.execute(stmt, row).rowcount == 1 for row in rows)
