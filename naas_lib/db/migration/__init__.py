"""Alembic migrations: ``upgrade`` is what ``naas-db-manage upgrade head`` runs.

Alembic (and the templating it pulls in) is imported only when a schema
must change: a process opening an up-to-date database compares the stored
revision with the head read from the version files, which every short-lived
``naas`` command does.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
_VERSIONS = os.path.join(HERE, "versions")
_REVISION = re.compile(r'^revision\s*=\s*["\']([^"\']+)["\']', re.M)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:None|["\']([^"\']+)["\'])', re.M)


def alembic_config(url: str, connection: sa.engine.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", HERE)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(engine: sa.engine.Engine) -> str | None:
    """The revision stored in the database (None for an empty one), without alembic."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    return rows[0][0] if len(rows) == 1 else None


def head_revision() -> str:
    """The newest revision: the one no version file names as its ``down_revision``."""
    revisions, downs = set(), set()
    for name in os.listdir(_VERSIONS):
        if not name.endswith(".py") or name.startswith("__"):
            continue
        with open(os.path.join(_VERSIONS, name)) as f:
            text = f.read()
        found = _REVISION.search(text)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(text)
        if down is not None and down.group(1):
            downs.add(down.group(1))
    heads = revisions - downs
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def upgrade(engine: sa.engine.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (a no-op when it is there already)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(str(engine.url), conn), revision)


def downgrade(engine: sa.engine.Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(alembic_config(str(engine.url), conn), revision)
