"""``naas subnet``: create, list, show, update and delete subnets."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib import wire
from naas_lib.cli import common

LIST_COLUMNS = ("id", "name", "network_id", "cidr", "gateway_ip", "allocation_pools")


def _pairs(text: str, keys: tuple[str, ...]) -> dict[str, str]:
    """``k1=v1,k2=v2`` with exactly ``keys``; a CommandError names what is wrong."""
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in keys:
            raise common.CommandError(f"{text!r} is not {','.join(k + '=...' for k in keys)}")
        out[key] = value.strip()
    if set(out) != set(keys):
        raise common.CommandError(f"{text!r} is not {','.join(k + '=...' for k in keys)}")
    return out


def _common_attrs(args: argparse.Namespace) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key in ("name", "description", "enable_dhcp"):
        if getattr(args, key) is not None:
            attrs[key] = getattr(args, key)
    if args.no_gateway:
        attrs["gateway_ip"] = None
    elif args.gateway is not None:
        attrs["gateway_ip"] = args.gateway
    if args.dns_nameserver is not None:
        attrs["dns_nameservers"] = list(args.dns_nameserver)
    if args.host_route is not None:
        attrs["host_routes"] = [_pairs(r, ("destination", "nexthop")) for r in args.host_route]
    return attrs


def _create(args: argparse.Namespace) -> None:
    net = common.find(args, "network", args.network)
    attrs = _common_attrs(args)
    attrs.update(network_id=net.id, cidr=args.cidr)
    if args.ip_version is not None:
        attrs["ip_version"] = args.ip_version
    if args.allocation_pool is not None:
        attrs["allocation_pools"] = [_pairs(p, ("start", "end")) for p in args.allocation_pool]
    if args.owner:
        attrs["project_id"] = args.owner
    sub = common.service(args).create_subnet(common.context(args), **attrs)
    common.emit(args, wire.subnet_to_wire(sub))


def _list(args: argparse.Namespace) -> None:
    filters: dict[str, Any] = {}
    if args.network:
        filters["network_id"] = common.find(args, "network", args.network).id
    for key in ("name", "ip_version", "cidr"):
        if getattr(args, key) is not None:
            filters[key] = getattr(args, key)
    subs = common.service(args).list_subnets(common.context(args), **filters)
    common.emit(args, [wire.subnet_to_wire(s) for s in subs], LIST_COLUMNS)


def _show(args: argparse.Namespace) -> None:
    common.emit(args, wire.subnet_to_wire(common.find(args, "subnet", args.subnet)))


def _update(args: argparse.Namespace) -> None:
    attrs = _common_attrs(args)
    if not attrs:
        raise common.CommandError("nothing to update; give at least one option")
    sub = common.find(args, "subnet", args.subnet)
    updated = common.service(args).update_subnet(
        common.context(args), sub.id, expected_revision=args.revision, **attrs)
    common.emit(args, wire.subnet_to_wire(updated))


def _delete(args: argparse.Namespace) -> None:
    for ident in args.subnets:
        sub = common.find(args, "subnet", ident)
        common.service(args).delete_subnet(common.context(args), sub.id)


def _add_shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("--description", help="Free text.")
    p.add_argument("--gateway", metavar="IP", help="Gateway address (default: first address).")
    p.add_argument("--no-gateway", action="store_true", help="No gateway on this subnet.")
    p.add_argument("--dns-nameserver", action="append", metavar="IP",
                   help="DNS server handed to guests; may be repeated.")
    p.add_argument("--host-route", action="append", metavar="destination=CIDR,nexthop=IP",
                   help="Static route handed to guests; may be repeated.")
    p.add_argument("--enable-dhcp", type=common.boolean, metavar="BOOL",
                   help="Whether addresses are handed out by DHCP (default true).")


def register(subparsers: Any) -> None:
    """Add ``naas subnet ...`` to the top-level subparsers."""
    sub = common.add_group(subparsers, "subnet", "Manage subnets (IP ranges of a network).")

    p = common.add_command(sub, "create", "Create a subnet on a network.", _create)
    p.add_argument("network", help="Id or unique name of the network.")
    p.add_argument("cidr", help="Address range, e.g. 10.0.0.0/24 or 2001:db8::/64.")
    p.add_argument("--name", help="Name of the subnet.")
    p.add_argument("--ip-version", type=int, choices=(4, 6),
                   help="IP version (default: that of the CIDR).")
    p.add_argument("--allocation-pool", action="append", metavar="start=IP,end=IP",
                   help="Range addresses are allocated from; may be repeated.")
    p.add_argument("--owner", metavar="PROJECT", help="Owning project (admin only).")
    _add_shared(p)

    p = common.add_command(sub, "list", "List the subnets the caller may see.", _list)
    p.add_argument("--network", help="Only subnets of this network (id or name).")
    p.add_argument("--name", help="Only subnets with this name.")
    p.add_argument("--ip-version", type=int, choices=(4, 6), help="Only this IP version.")
    p.add_argument("--cidr", help="Only subnets with this CIDR.")

    p = common.add_command(sub, "show", "Show a subnet.", _show)
    p.add_argument("subnet", help="Id or unique name of the subnet.")

    p = common.add_command(sub, "update", "Change a subnet.", _update)
    p.add_argument("subnet", help="Id or unique name of the subnet.")
    p.add_argument("--name", help="New name.")
    p.add_argument("--revision", type=int, metavar="N",
                   help="Refuse the update unless the subnet is at this revision.")
    _add_shared(p)

    p = common.add_command(sub, "delete", "Delete subnets (refused while addresses are used).",
                           _delete)
    p.add_argument("subnets", nargs="+", metavar="subnet", help="Id or unique name.")
