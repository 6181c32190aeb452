"""``naas sync``: make this host match the database once and print what changed."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib.cli import common, output


def _changes(report: Any) -> list[tuple[str, str]]:
    """One (change, what) row per device or status the round changed."""
    return ([("created", item) for item in report.created]
            + [("fixed", item) for item in report.fixed]
            + [("removed", item) for item in report.removed]
            + [("status", f"port {port_id}: {change}")
               for port_id, change in sorted(report.status_changes.items())]
            + [("failed", f"port {port_id}: {reason}")
               for port_id, reason in sorted(report.failed_ports.items())])


def _admin() -> Any:
    from naas_lib.context import get_admin_context

    return get_admin_context()


def _sync(args: argparse.Namespace) -> int | None:
    conf = common.build_conf(args, host=args.host)
    if not conf.host:
        raise common.CommandError("naas sync needs a host: give --host or set [DEFAULT] host")
    svc = common.service(args, conf, register_host=False)
    recorded = {h.name: h for h in svc.list_hosts(_admin())}.get(conf.host)
    if recorded is not None and recorded.driver and recorded.driver != svc.driver_name:
        # Only a service running the host's own driver may write its record.
        raise common.CommandError(
            f"host {conf.host} is registered with driver {recorded.driver!r}, this "
            f"configuration uses {svc.driver_name!r}: run naas sync with the host's own "
            "configuration (--config-file)")
    svc.register_host()
    report = svc.sync()
    rows = _changes(report)
    if args.format in output.DOCUMENT_FORMATS:
        output.show_one(args, report.to_dict())
    elif args.format != "table":
        output.show_rows(args, ("Change", "What"), rows)
    else:
        print(output.format_table(("Change", "What"), rows) if rows else "No changes.")
        print(f"{len(report.active_ports)} port(s) active, {len(report.failed_ports)} failed.")
    return common.EXIT_ERROR if report.failed_ports else None


def register(subparsers: Any) -> None:
    """Add ``naas sync``."""
    parser = common.add_command(
        subparsers, "sync",
        "Make this host's devices match the database once (the reconciliation loop's "
        "round) and print what was created, fixed and removed. Exits 1 when a port failed.",
        _sync)
    parser.add_argument("--host", help="Host name (default: [DEFAULT] host of the config).")
