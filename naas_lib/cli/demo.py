"""``naas demo``: the README's main job (logic in :mod:`naas_lib.virt.demo`)."""

from __future__ import annotations

import argparse

from naas_lib.cli import common


def _demo(args: argparse.Namespace) -> int:
    from naas_lib.virt import demo

    return demo.run(database_url=args.database_url or None, driver=args.driver,
                    say=lambda line: print(line, flush=True), guests=args.guests)


def register(subparsers) -> None:
    """Add ``naas demo``."""
    parser = common.add_command(
        subparsers, "demo",
        "Create two networks, boot three instances with two NICs each through the "
        "provisioner (when root: QEMU VMs that get their addresses by DHCP, or "
        "network-namespace guests), print their network info and the connectivity "
        "matrix, then tear everything down and prove nothing is left. Uses a fresh "
        "temporary SQLite file unless --database-url is given.",
        _demo)
    parser.add_argument(
        "--driver", choices=("auto", "linuxbridge", "noop"), default="auto",
        help="auto (default): linuxbridge with real namespaces when root, else noop "
        "(database records only).")
    parser.add_argument(
        "--guests", choices=("auto", "qemu", "namespace"), default="auto",
        help="What the instances are with the linuxbridge driver. auto (default): QEMU "
        "VMs (microvm, TCG) on the ports' taps, addressed by DHCP, when root with "
        "qemu-system-x86_64, a /boot kernel, busybox and cpio; else network namespaces, "
        "and the demo says so. The guest image is cached in $NAAS_GUEST_CACHE, else "
        ".cache/guests of the checkout naas runs from, else ~/.cache/naas/guests.")
