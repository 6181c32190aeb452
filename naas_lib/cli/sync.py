"""``naas sync``: make this host match the database once and print what changed."""

from __future__ import annotations

import argparse

from naas_lib.cli import common


def _service(args: argparse.Namespace):
    """A service for the host named by ``--host`` or the configuration."""
    from naas_lib.service import NetworkService

    conf = common.build_conf(args)
    if args.host:
        conf.set_override("host", args.host)
    if not conf.host:
        raise common.CommandError("naas sync needs a host: give --host or set [DEFAULT] host")
    svc = args._service = NetworkService(conf)
    return svc


def _sync(args: argparse.Namespace) -> int | None:
    report = _service(args).sync()
    if args.format == "json":
        common.emit(args, report.to_dict())
        return None
    rows = ([("created", item) for item in report.created]
            + [("fixed", item) for item in report.fixed]
            + [("removed", item) for item in report.removed]
            + [("status", f"port {port_id}: {change}")
               for port_id, change in sorted(report.status_changes.items())]
            + [("failed", f"port {port_id}: {reason}")
               for port_id, reason in sorted(report.failed_ports.items())])
    if rows:
        print(common.format_table(("Change", "What"), rows))
    else:
        print("No changes.")
    print(f"{len(report.active_ports)} port(s) active, {len(report.failed_ports)} failed.")
    return common.EXIT_ERROR if report.failed_ports else None


def register(subparsers) -> None:
    """Add ``naas sync``."""
    parser = common.add_command(
        subparsers, "sync",
        "Make this host's devices match the database once (the reconciliation loop's "
        "round) and print what was created, fixed and removed. Exits 1 when a port failed.",
        _sync)
    parser.add_argument("--host", help="Host name (default: [DEFAULT] host of the config).")
