"""Alembic migrations: ``upgrade`` is what ``naas-db-manage upgrade head`` runs."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime import migration as alembic_migration
from alembic.script import ScriptDirectory

HERE = os.path.dirname(os.path.abspath(__file__))


def alembic_config(url: str, connection: sa.engine.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", HERE)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(engine: sa.engine.Engine) -> str | None:
    with engine.connect() as conn:
        return alembic_migration.MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def upgrade(engine: sa.engine.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (a no-op when it is there already)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(str(engine.url), conn), revision)


def downgrade(engine: sa.engine.Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(str(engine.url), conn), revision)
