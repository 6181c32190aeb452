"""Throw-away databases on the servers of a test machine.

``provision(backend)`` creates a uniquely named database and returns its URL
and a function that drops it. Under ``CI=true`` an unreachable server is an
error; elsewhere callers may skip.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable

import sqlalchemy as sa

BACKENDS = ("sqlite", "postgresql", "mysql")

ADMIN_URLS = {
    "postgresql": os.environ.get("NAAS_TEST_PG_URL",
                                 "postgresql+psycopg2://root@127.0.0.1:5432/test"),
    "mysql": os.environ.get("NAAS_TEST_MYSQL_URL",
                            "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"),
}


class ServerUnavailable(Exception):
    """The database server of a backend cannot be reached."""


def provision(backend: str) -> tuple[str, Callable[[], None]]:
    """Create a fresh, empty database; returns (url, drop)."""
    name = f"naas_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        tmpdir = tempfile.mkdtemp(prefix="naas-test-")
        path = os.path.join(tmpdir, f"{name}.sqlite")

        def drop_file() -> None:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(path + suffix)
                except FileNotFoundError:
                    pass
            os.rmdir(tmpdir)

        return f"sqlite:///{path}", drop_file
    admin_url = sa.engine.make_url(ADMIN_URLS[backend])
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except sa.exc.OperationalError as e:
        raise ServerUnavailable(f"{backend} at {admin_url.render_as_string()}: {e}") from e
    url = admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_db() -> None:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    return url, drop_db
