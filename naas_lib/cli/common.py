"""Helpers shared by every ``naas`` subcommand module.

A subcommand module calls :func:`add_command` for each leaf command and
gives it a handler ``handler(args) -> int | None``. Inside a handler,
:func:`service` builds (once) the :class:`~naas_lib.NetworkService` from the
global options, :func:`context` gives the request context and :func:`emit`
prints a result as a table or as JSON (``-f json``).

Errors: a :class:`~naas_lib.exceptions.NaasError` or a bad argument ends the
command with a one-line message on stderr and a non-zero exit code
(:data:`EXIT_ERROR` and :data:`EXIT_USAGE`); never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

from oslo_config import cfg

from naas_lib import exceptions as exc
from naas_lib.context import RequestContext

EXIT_OK = 0
EXIT_ERROR = 1  # the service refused the request (NaasError)
EXIT_USAGE = 2  # bad command line
EXIT_INTERNAL = 3  # anything unexpected (a bug or an unreachable database)

FORMATS = ("table", "json")

#: Project of the default (admin) context of the command.
ADMIN_PROJECT = "admin"

Handler = Callable[[argparse.Namespace], "int | None"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error message (``naas network create: error: ...``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class CommandError(Exception):
    """A user error found by the CLI itself (e.g. a malformed KEY=VALUE)."""


# -- global options --------------------------------------------------------------


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before the command and again after it.

    On leaf parsers the defaults are suppressed so that a value given before
    the command is not reset by the leaf parser.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--database-url", default=default(os.environ.get("NAAS_DATABASE_URL")),
        help="SQLAlchemy URL of the database (env NAAS_DATABASE_URL). Default: the "
        "[database] connection of the config files, else the embedded SQLite file "
        "in the user's data directory.")
    group.add_argument(
        "--config-file", action="append", default=default(None), metavar="PATH",
        help="oslo.config file to read; may be repeated.")
    group.add_argument(
        "--project", default=default(os.environ.get("NAAS_PROJECT")),
        help="Act as a member of this project (env NAAS_PROJECT). Without it the "
        "command acts as an admin.")
    group.add_argument(
        "--admin", action="store_true", default=default(False),
        help="With --project: act as an admin of that project.")
    group.add_argument(
        "-f", "--format", choices=FORMATS, default=default("table"),
        help="Output format: a readable table (default) or JSON for scripts.")
    group.add_argument(
        "--debug", action="store_true", default=default(False),
        help="Log at debug level and show tracebacks of unexpected errors.")


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Add the global options to the top-level parser."""
    _global_options(parser, suppress=False)


def add_group(subparsers: Any, name: str, help_text: str) -> Any:
    """A subcommand group (``naas network ...``); returns its own subparsers."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    sub = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    sub.required = True
    return sub


def add_command(subparsers: Any, name: str, help_text: str,
                handler: Handler) -> argparse.ArgumentParser:
    """A leaf command; the caller adds its own arguments to the returned parser."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    _global_options(parser, suppress=True)
    parser.set_defaults(handler=handler)
    return parser


# -- argument types --------------------------------------------------------------


def boolean(text: str) -> bool:
    """An argparse type for true/false flags written as words."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (true/false)")


def key_value(text: str) -> tuple[str, str]:
    """An argparse type for ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


# -- service and context ---------------------------------------------------------


def build_conf(args: argparse.Namespace) -> cfg.ConfigOpts:
    """Configuration from ``--config-file`` and ``--database-url``.

    The driver named in the config files is kept (an operator on a compute
    host gets the same behaviour as the host's own service); without files
    it is the noop driver, which touches nothing on the host.
    """
    from naas_lib import conf as naas_conf

    conf = cfg.ConfigOpts()
    naas_conf.register_opts(conf)
    files = list(getattr(args, "config_file", None) or [])
    for path in files:
        if not os.path.isfile(path):
            raise CommandError(f"config file {path} does not exist")
    try:
        conf([], project="naas", default_config_files=files)
    except cfg.Error as e:
        raise CommandError(f"bad configuration: {e}") from None
    if args.database_url:
        conf.set_override("connection", args.database_url, group="database")
    return conf  # the service registers its driver's options when it is built


def service(args: argparse.Namespace) -> Any:
    """The service of this invocation, built on first use and closed by :func:`run`."""
    svc = getattr(args, "_service", None)
    if svc is None:
        from naas_lib.service import NetworkService

        svc = NetworkService(build_conf(args))
        args._service = svc
    return svc


def context(args: argparse.Namespace) -> RequestContext:
    """Admin without ``--project``; a member (or admin with ``--admin``) of it otherwise.

    The admin context without ``--project`` belongs to the project
    :data:`ADMIN_PROJECT`, which owns what it creates unless ``--owner`` is given.
    """
    if not args.project:
        return RequestContext(project_id=ADMIN_PROJECT, user_id="naas-cli", roles=["admin"],
                              is_admin=True)
    roles = ["admin"] if args.admin else ["member"]
    return RequestContext(project_id=args.project, user_id="naas-cli", roles=roles)


# -- output ----------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Mapping):
        if set(value) <= {"subnet_id", "ip_address"} and "ip_address" in value:
            return str(value["ip_address"])
        if set(value) == {"start", "end"}:
            return f"{value['start']}-{value['end']}"
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table with a header rule, columns padded to their widths."""
    text_rows = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in text_rows)
    return "\n".join(out)


def emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None) -> None:
    """Print one resource (a dict) or a list of them.

    JSON prints the documents unchanged. A table shows one resource as
    Field/Value rows and a list with the given ``columns`` (all keys of the
    first item when None).
    """
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
        return
    if isinstance(data, Mapping):
        print(format_table(("Field", "Value"), sorted(data.items())))
        return
    items = list(data)
    if columns is None:
        columns = list(items[0]) if items else ["id"]
    print(format_table(columns, [[item.get(c) for c in columns] for item in items]))


# -- running a command -------------------------------------------------------------


def fail(message: str, code: int = EXIT_ERROR) -> int:
    """Print ``naas: error: <message>`` on one line and return ``code``."""
    one_line = " ".join(str(message).split())
    print(f"naas: error: {one_line}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """Run the chosen handler; map every error to a one-line message and exit code."""
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code = args.handler(args)
        return EXIT_OK if code is None else int(code)
    except exc.NaasError as e:
        return fail(e.message)
    except CommandError as e:
        return fail(str(e), EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as e:
        if args.debug:
            raise
        reason = " ".join(str(e).split()) or type(e).__name__
        return fail(f"{type(e).__name__}: {reason[:300]} (rerun with --debug for details)",
                    EXIT_INTERNAL)
    finally:
        svc = getattr(args, "_service", None)
        if svc is not None:
            svc.close()


# -- finding resources by id or name ------------------------------------------------


def find(args: argparse.Namespace, resource: str, ident: str) -> Any:
    """The resource with id ``ident``, or the only one named ``ident``.

    ``resource`` is ``network``, ``subnet``, ``port`` or ``service``; the
    service's own NotFound is raised when nothing (or not exactly one) matches.
    """
    svc, ctx = service(args), context(args)
    getter = getattr(svc, f"get_{resource}")
    try:
        return getter(ctx, ident)
    except exc.NotFound as not_found:
        matches = getattr(svc, f"list_{resource}s")(ctx, name=ident)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} {resource}s are named {ident!r}; use the id")
        raise not_found from None
