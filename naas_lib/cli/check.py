"""``naas check NETWORK``: send real traffic between a network's namespace guests."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib.cli import common, output


def _print_table(report: Any, headers: list[str], rows: list[list[str]]) -> None:
    """The matrix, then one line per problem and the verdict."""
    print(output.format_table(headers, rows))
    for probe in report.problems:
        kind = "cannot reach" if probe.expected else "must not reach but reaches"
        print(f"PROBLEM: {probe.source[:8]} {kind} {probe.address} "
              f"(port {probe.target[:8]}) {probe.detail}".rstrip())
    print("OK" if report.ok else f"{len(report.problems)} problem(s)")


def _check(args: argparse.Namespace) -> int | None:
    from naas_lib.cli import connectivity

    net = common.find(args, "network", args.network)
    report = connectivity.check_network(common.service(args), common.context(args), net.id,
                                        isolation=not args.no_isolation,
                                        deadline=args.deadline)
    own = [g for g in report.guests if g.network_id == net.id]
    headers = ["from \\ to"] + [g.label for g in report.guests]
    rows = [[src.label, *cells] for src, cells in zip(own, report.matrix(), strict=True)]
    if args.format in output.DOCUMENT_FORMATS:
        output.show_one(args, report.to_dict())
    elif args.format != "table":
        output.show_rows(args, headers, rows)
    else:
        if len(own) < 2:
            print(f"Network {net.id} has {len(own)} namespace guest(s); nothing to check.")
        _print_table(report, headers, rows)
    return None if report.ok else common.EXIT_ERROR


def register(subparsers: Any) -> None:
    """Add ``naas check``."""
    parser = common.add_command(
        subparsers, "check",
        "Ping between every pair of a network's namespace guests (ports whose binding "
        "profile names a netns) and towards other networks' guests; print the "
        "connectivity matrix. Exits 1 when a pair that should talk cannot, or a pair "
        "on different networks can. Needs root.",
        _check)
    parser.add_argument("network", help="Network id or name.")
    parser.add_argument("--no-isolation", action="store_true",
                        help="Do not probe guests of other networks.")
    parser.add_argument("--deadline", type=float, default=2.0,
                        help="Seconds to wait for each reply (default 2).")
