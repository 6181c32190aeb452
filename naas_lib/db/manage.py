"""``naas-db-manage``: create and migrate the schema of a server database.

    naas-db-manage --database-url postgresql+psycopg2://naas@db/naas upgrade head
    naas-db-manage --config-file /etc/naas/naas.conf current

The embedded SQLite file migrates itself on first use; PostgreSQL and
MariaDB deployments run ``upgrade head`` once per release, before the
services start.
"""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa
from oslo_config import cfg
from oslo_db import options as db_options

from naas_lib.db import api as db_api
from naas_lib.db import migration


def _url(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    conf = cfg.ConfigOpts()
    db_options.set_defaults(conf)
    conf([], project="naas", default_config_files=args.config_file or [])
    return conf.database.connection or db_api.default_url()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="naas-db-manage", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL of the database")
    parser.add_argument("--config-file", action="append",
                        help="configuration file with [database] connection")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate the schema up to a revision")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="migrate the schema down to a revision")
    down.add_argument("revision")
    sub.add_parser("current", help="print the schema's current revision")
    sub.add_parser("heads", help="print the newest revision this code knows")
    args = parser.parse_args(argv)
    if args.command == "heads":
        print(migration.head_revision())
        return 0
    url = _url(args)
    engine = sa.create_engine(url)
    try:
        if args.command == "upgrade":
            migration.upgrade(engine, args.revision)
            print(f"schema at {migration.current_revision(engine)}")
        elif args.command == "downgrade":
            migration.downgrade(engine, args.revision)
            print(f"schema at {migration.current_revision(engine)}")
        else:
            print(migration.current_revision(engine) or "empty")
    except sa.exc.SQLAlchemyError as e:
        detail = " ".join(str(e.orig if getattr(e, "orig", None) else e).split())
        print(f"naas-db-manage: {type(e).__name__}: {detail}",
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
