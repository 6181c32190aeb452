"""``naas demo``: the README's main job (logic in :mod:`naas_lib.virt.demo`)."""

from __future__ import annotations

import argparse

from naas_lib.cli import common


def _demo(args: argparse.Namespace) -> int:
    from naas_lib.virt import demo

    return demo.run(database_url=args.database_url or None, driver=args.driver,
                    say=lambda line: print(line, flush=True))


def register(subparsers) -> None:
    """Add ``naas demo``."""
    parser = common.add_command(
        subparsers, "demo",
        "Create two networks, boot three instances with two NICs each through the "
        "provisioner (as network-namespace guests when root), print their network info "
        "and the connectivity matrix, then tear everything down and prove nothing is "
        "left. Uses a fresh temporary SQLite file unless --database-url is given.",
        _demo)
    parser.add_argument(
        "--driver", choices=("auto", "linuxbridge", "noop"), default="auto",
        help="auto (default): linuxbridge with real namespaces when root, else noop "
        "(database records only).")
