"""Entry point of the ``naas`` command.

Each subcommand group lives in its own module ``naas_lib.cli.<name>`` that
exposes ``register(subparsers)``; :data:`COMMAND_MODULES` below lists them in
the order they appear in ``naas --help``. To add a group, create the module
and append its name here (one line). A resource's create/list/show/update/
delete commands come from its table (:mod:`naas_lib.cli.resource`); shared
helpers (service construction, context, errors) live in
:mod:`naas_lib.cli.common` and printing in :mod:`naas_lib.cli.output`.

Every command module is imported to build the parser, so they import nothing
heavy at module level: ``naas --help`` loads neither oslo.* nor SQLAlchemy.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from naas_lib.cli import common

#: Subcommand modules, in help order. Each one has ``register(subparsers)``.
COMMAND_MODULES: list[str] = [
    "naas_lib.cli.demo",
    "naas_lib.cli.network",
    "naas_lib.cli.subnet",
    "naas_lib.cli.port",
    "naas_lib.cli.higher_layer",
    "naas_lib.cli.security_group",
    "naas_lib.cli.sync",
    "naas_lib.cli.check",
    "naas_lib.cli.config",
]


def build_parser() -> common.ArgumentParser:
    """The full argument parser with every registered subcommand group."""
    parser = common.ArgumentParser(
        prog="naas",
        description="Operate naas_lib networks, subnets, ports, attachments and "
        "higher-layer services.",
    )
    common.add_global_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen command and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return common.run(args)


if __name__ == "__main__":  # pragma: no cover - ``python -m naas_lib.cli.main``
    sys.exit(main())
