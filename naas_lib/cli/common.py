"""Helpers shared by every ``naas`` subcommand module.

A subcommand module calls :func:`add_command` for each leaf command and
gives it a handler ``handler(args) -> int | None``. Inside a handler,
:func:`service` builds (once) the :class:`~naas_lib.NetworkService` from the
global options, :func:`context` gives the request context, and
:mod:`naas_lib.cli.output` prints the result in the format asked for.

Start-up: this module (and every command module) imports only the standard
library and light naas_lib modules at import time. oslo.config, SQLAlchemy
and the service are imported when a command runs, so ``naas --help`` and a
usage error answer without loading them.

Errors: a :class:`~naas_lib.exceptions.NaasError` or a bad argument ends the
command with a one-line message on stderr and a non-zero exit code
(:data:`EXIT_ERROR` and :data:`EXIT_USAGE`); never with a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from naas_lib.cli import output

if TYPE_CHECKING:
    from oslo_config import cfg

    from naas_lib.context import RequestContext
    from naas_lib.service import NetworkService

EXIT_OK = 0
EXIT_ERROR = 1  # the service refused the request (NaasError)
EXIT_USAGE = 2  # bad command line
EXIT_INTERNAL = 3  # anything unexpected (a bug or an unreachable database)

#: Project of the default (admin) context of the command.
ADMIN_PROJECT = "admin"

#: The driver of a command run without config files: it touches nothing on the host.
DEFAULT_DRIVER = "noop"

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
        "-f", "--format", choices=output.FORMATS, default=default("table"),
        help="Output format: a readable table (default), json or yaml documents, "
        "value (bare values) or csv.")
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


def add_command(subparsers: Any, name: str, help_text: str, handler: Handler,
                prints: str | None = None) -> argparse.ArgumentParser:
    """A leaf command; the caller adds its own arguments to the returned parser.

    ``prints`` is ``"one"`` for a command that prints one resource and
    ``"list"`` for one that prints rows: it adds the matching output options.
    """
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    _global_options(parser, suppress=True)
    if prints is not None:
        output.add_options(parser, listing=prints == "list")
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


def pairs(*keys: str) -> Callable[[str], dict[str, str]]:
    """An argparse type for ``k1=v1,k2=v2`` with exactly ``keys`` (``-`` may stand for ``_``)."""
    expected = ",".join(k + "=..." for k in keys)

    def parse(text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in text.split(","):
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in keys:
                break
            out[key] = value.strip()
        else:
            if set(out) == set(keys):
                return out
        raise argparse.ArgumentTypeError(f"{text!r} is not {expected}")

    return parse


# -- service and context ---------------------------------------------------------


def _config_files(args: argparse.Namespace) -> list[str]:
    files = list(getattr(args, "config_file", None) or [])
    for path in files:
        if not os.path.isfile(path):
            raise CommandError(f"config file {path} does not exist")
    return files


def build_conf(args: argparse.Namespace, host: str | None = None) -> cfg.ConfigOpts:
    """Configuration from ``--config-file`` and ``--database-url``, by the service's own builder.

    The driver named in the config files is kept (an operator on a compute
    host gets the same behaviour as the host's own service); without files
    it is the noop driver, which touches nothing on the host.
    """
    from oslo_config import cfg

    from naas_lib.service import build_conf as service_conf

    files = _config_files(args)
    settings: dict[str, Any] = {"database_url": args.database_url or None, "host": host,
                                "config_files": files}
    try:
        conf = service_conf(driver=DEFAULT_DRIVER, **settings)
        conf.clear_override("driver")
        if conf.driver != DEFAULT_DRIVER:  # named by a config file: its options too
            conf = service_conf(driver=conf.driver, **settings)
    except cfg.Error as e:
        raise CommandError(f"bad configuration: {e}") from None
    return conf


def service(args: argparse.Namespace, conf: cfg.ConfigOpts | None = None,
            register_host: bool = True) -> NetworkService:
    """The service of this invocation, built on first use and closed by :func:`run`.

    ``conf`` is for a command that adjusts the configuration first (``sync``);
    by default it is :func:`build_conf` of the global options.
    """
    svc = getattr(args, "_service", None)
    if svc is None:
        from naas_lib import NetworkService

        svc = args._service = NetworkService(conf if conf is not None else build_conf(args),
                                             register_host=register_host)
    return svc


def context(args: argparse.Namespace) -> RequestContext:
    """Admin without ``--project``; a member (or admin with ``--admin``) of it otherwise.

    The admin context without ``--project`` belongs to the project
    :data:`ADMIN_PROJECT`, which owns what it creates unless ``--owner`` is given.
    """
    from naas_lib.context import RequestContext

    if not args.project:
        return RequestContext(project_id=ADMIN_PROJECT, user_id="naas-cli", roles=["admin"],
                              is_admin=True)
    roles = ["admin"] if args.admin else ["member"]
    return RequestContext(project_id=args.project, user_id="naas-cli", roles=roles)


# -- running a command -------------------------------------------------------------


def fail(message: str, code: int = EXIT_ERROR) -> int:
    """Print ``naas: error: <message>`` on one line and return ``code``."""
    one_line = " ".join(str(message).split())
    print(f"naas: error: {one_line}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """Run the chosen handler; map every error to a one-line message and exit code."""
    import logging

    from naas_lib import exceptions as exc

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code = args.handler(args)
        return EXIT_OK if code is None else int(code)
    except exc.NaasError as e:
        return fail(e.message)
    except (CommandError, output.OutputError) as e:
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
    from naas_lib import exceptions as exc

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
