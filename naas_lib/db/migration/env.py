"""Alembic environment: runs on a connection handed in, or on the configured URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from naas_lib.db import models

config = context.config
target_metadata = models.metadata


def _run(connection: sa.engine.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()
