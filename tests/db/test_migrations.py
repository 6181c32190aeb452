"""The migrations build exactly the models' schema, on every backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from naas_lib.db import migration, models


def _diff(engine: sa.engine.Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, models.metadata)


def test_upgrade_head_matches_models(db_url):
    engine = sa.create_engine(db_url)
    try:
        migration.upgrade(engine)
        assert migration.current_revision(engine) == migration.head_revision()
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(db_url):
    engine = sa.create_engine(db_url)
    try:
        migration.upgrade(engine)
        migration.downgrade(engine, "base")
        remaining = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        migration.upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_naas_db_manage_command(db_url):
    exe = os.path.join(os.path.dirname(sys.executable), "naas-db-manage")
    if not os.path.exists(exe):
        pytest.fail("naas-db-manage is not installed next to the interpreter")
    up = subprocess.run([exe, "--database-url", db_url, "upgrade", "head"],
                        capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    assert migration.head_revision() in up.stdout
    cur = subprocess.run([exe, "--database-url", db_url, "current"],
                         capture_output=True, text=True, timeout=60)
    assert cur.stdout.strip() == migration.head_revision()


def test_naas_db_manage_reports_unreachable_database_in_one_line(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "naas-db-manage")
    bad = subprocess.run([exe, "--database-url",
                          "postgresql+psycopg2://nobody@127.0.0.1:1/none", "upgrade"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_service_refuses_an_unmigrated_database(db_url):
    from naas_lib import NetworkService
    from naas_lib import exceptions as exc

    with pytest.raises(exc.SchemaOutOfDate, match="naas-db-manage"):
        NetworkService.from_settings(database_url=db_url, create_schema=False)


def test_the_head_read_without_alembic_is_alembics_single_head():
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(migration.alembic_config("sqlite://")).get_heads()
    assert heads == [migration.head_revision()]
