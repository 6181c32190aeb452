"""``naas network``: create, list, show, update and delete networks."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib import wire
from naas_lib.cli import common

LIST_COLUMNS = ("id", "name", "provider:network_type", "provider:segmentation_id", "mtu",
                "shared", "status", "subnets")


def _create(args: argparse.Namespace) -> None:
    attrs: dict[str, Any] = {"name": args.name}
    for key in ("description", "shared", "admin_state_up", "mtu", "network_type",
                "segmentation_id", "physical_network"):
        value = getattr(args, key)
        if value is not None:
            attrs[key] = value
    if args.owner:
        attrs["project_id"] = args.owner
    net = common.service(args).create_network(common.context(args), **attrs)
    common.emit(args, wire.network_to_wire(net))


def _list(args: argparse.Namespace) -> None:
    filters: dict[str, Any] = {}
    for key in ("name", "network_type", "shared"):
        value = getattr(args, key)
        if value is not None:
            filters[key] = value
    if args.owner:
        filters["project_id"] = args.owner
    nets = common.service(args).list_networks(common.context(args), **filters)
    common.emit(args, [wire.network_to_wire(n) for n in nets], LIST_COLUMNS)


def _show(args: argparse.Namespace) -> None:
    common.emit(args, wire.network_to_wire(common.find(args, "network", args.network)))


def _update(args: argparse.Namespace) -> None:
    attrs = {key: getattr(args, key) for key in ("name", "description", "shared",
                                                 "admin_state_up", "mtu")
             if getattr(args, key) is not None}
    if not attrs:
        raise common.CommandError("nothing to update; give at least one option")
    net = common.find(args, "network", args.network)
    updated = common.service(args).update_network(
        common.context(args), net.id, expected_revision=args.revision, **attrs)
    common.emit(args, wire.network_to_wire(updated))


def _delete(args: argparse.Namespace) -> None:
    for ident in args.networks:
        net = common.find(args, "network", ident)
        common.service(args).delete_network(common.context(args), net.id)


def register(subparsers: Any) -> None:
    """Add ``naas network ...`` to the top-level subparsers."""
    sub = common.add_group(subparsers, "network", "Manage networks.")

    p = common.add_command(sub, "create", "Create a network.", _create)
    p.add_argument("name", help="Name of the network.")
    p.add_argument("--description", help="Free text.")
    p.add_argument("--shared", type=common.boolean, metavar="BOOL",
                   help="Visible to every project (admin only).")
    p.add_argument("--admin-state-up", type=common.boolean, metavar="BOOL",
                   help="Administrative state (default true).")
    p.add_argument("--mtu", type=int, help="MTU (default: the largest the segment allows).")
    p.add_argument("--network-type", choices=("local", "flat", "vlan", "vxlan"),
                   help="Provider network type (admin only).")
    p.add_argument("--segmentation-id", type=int, help="VNI or VLAN id (admin only).")
    p.add_argument("--physical-network", help="Physical network of a flat or vlan network.")
    p.add_argument("--owner", metavar="PROJECT",
                   help="Project that owns the network (admin only).")

    p = common.add_command(sub, "list", "List the networks the caller may see.", _list)
    p.add_argument("--name", help="Only networks with this name.")
    p.add_argument("--network-type", help="Only networks of this type.")
    p.add_argument("--shared", type=common.boolean, metavar="BOOL",
                   help="Only shared (true) or unshared (false) networks.")
    p.add_argument("--owner", metavar="PROJECT", help="Only networks of this project.")

    p = common.add_command(sub, "show", "Show a network.", _show)
    p.add_argument("network", help="Id or unique name of the network.")

    p = common.add_command(sub, "update", "Change a network.", _update)
    p.add_argument("network", help="Id or unique name of the network.")
    p.add_argument("--name", help="New name.")
    p.add_argument("--description", help="New description.")
    p.add_argument("--shared", type=common.boolean, metavar="BOOL", help="Share or unshare.")
    p.add_argument("--admin-state-up", type=common.boolean, metavar="BOOL",
                   help="Administrative state.")
    p.add_argument("--mtu", type=int, help="New MTU.")
    p.add_argument("--revision", type=int, metavar="N",
                   help="Refuse the update unless the network is at this revision.")

    p = common.add_command(sub, "delete", "Delete networks (refused while ports are attached).",
                           _delete)
    p.add_argument("networks", nargs="+", metavar="network", help="Id or unique name.")
