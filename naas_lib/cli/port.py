"""``naas port``: ports and their attachments (attach/detach a VIF)."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib import wire
from naas_lib.cli import common

LIST_COLUMNS = ("id", "name", "network_id", "mac_address", "fixed_ips", "status",
                "binding:host_id")


def _fixed_ip(text: str) -> dict[str, str]:
    """``subnet=ID``, ``ip-address=IP`` or both, comma separated."""
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = {"subnet": "subnet_id", "subnet_id": "subnet_id", "ip-address": "ip_address",
               "ip_address": "ip_address", "ip": "ip_address"}.get(key.strip())
        if not sep or key is None or not value:
            raise common.CommandError(f"{text!r} is not subnet=ID[,ip-address=IP]")
        out[key] = value.strip()
    return out


def _attrs(args: argparse.Namespace) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key in ("name", "description", "admin_state_up", "mac_address", "device_id",
                "device_owner"):
        if getattr(args, key) is not None:
            attrs[key] = getattr(args, key)
    if args.fixed_ip is not None:
        attrs["fixed_ips"] = [_fixed_ip(f) for f in args.fixed_ip]
    if args.host is not None:
        attrs["binding_host_id"] = args.host
    return attrs


def _create(args: argparse.Namespace) -> None:
    net = common.find(args, "network", args.network)
    attrs = _attrs(args)
    attrs["network_id"] = net.id
    if args.owner:
        attrs["project_id"] = args.owner
    port = common.service(args).create_port(common.context(args), **attrs)
    common.emit(args, wire.port_to_wire(port))


def _list(args: argparse.Namespace) -> None:
    filters: dict[str, Any] = {}
    if args.network:
        filters["network_id"] = common.find(args, "network", args.network).id
    for key, attr in (("name", "name"), ("device_id", "device_id"),
                      ("host", "binding_host_id"), ("status", "status")):
        if getattr(args, key) is not None:
            filters[attr] = getattr(args, key)
    ports = common.service(args).list_ports(common.context(args), **filters)
    common.emit(args, [wire.port_to_wire(p) for p in ports], LIST_COLUMNS)


def _show(args: argparse.Namespace) -> None:
    common.emit(args, wire.port_to_wire(common.find(args, "port", args.port)))


def _update(args: argparse.Namespace) -> None:
    attrs = _attrs(args)
    if not attrs:
        raise common.CommandError("nothing to update; give at least one option")
    port = common.find(args, "port", args.port)
    updated = common.service(args).update_port(
        common.context(args), port.id, expected_revision=args.revision, **attrs)
    common.emit(args, wire.port_to_wire(updated))


def _delete(args: argparse.Namespace) -> None:
    for ident in args.ports:
        port = common.find(args, "port", ident)
        common.service(args).delete_port(common.context(args), port.id)


def _attach(args: argparse.Namespace) -> None:
    port = common.find(args, "port", args.port)
    att = common.service(args).attach_port(
        common.context(args), port.id, args.interface_id, instance_id=args.instance_id,
        host=args.host)
    common.emit(args, wire.attachment_to_wire(att))


def _detach(args: argparse.Namespace) -> None:
    port = common.find(args, "port", args.port)
    att = common.service(args).detach_port(common.context(args), port.id)
    common.emit(args, wire.attachment_to_wire(att))


def _add_shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("--description", help="Free text.")
    p.add_argument("--admin-state-up", type=common.boolean, metavar="BOOL",
                   help="Administrative state.")
    p.add_argument("--mac-address", metavar="MAC", help="MAC address (default: generated).")
    p.add_argument("--fixed-ip", action="append", metavar="subnet=ID[,ip-address=IP]",
                   help="Address to allocate; may be repeated (default: one per subnet).")
    p.add_argument("--device-id", help="Id of the device using the port (e.g. instance).")
    p.add_argument("--device-owner", help="Kind of device using the port (compute:nova ...).")
    p.add_argument("--host", help="Bind the port to this host (admin only).")


def register(subparsers: Any) -> None:
    """Add ``naas port ...`` to the top-level subparsers."""
    sub = common.add_group(subparsers, "port", "Manage ports and their attachments.")

    p = common.add_command(sub, "create", "Create a port on a network.", _create)
    p.add_argument("network", help="Id or unique name of the network.")
    p.add_argument("--name", help="Name of the port.")
    p.add_argument("--owner", metavar="PROJECT", help="Owning project (admin only).")
    _add_shared(p)

    p = common.add_command(sub, "list", "List the ports the caller may see.", _list)
    p.add_argument("--network", help="Only ports of this network (id or name).")
    p.add_argument("--name", help="Only ports with this name.")
    p.add_argument("--device-id", help="Only ports of this device.")
    p.add_argument("--host", help="Only ports bound to this host.")
    p.add_argument("--status", help="Only ports in this status (ACTIVE, DOWN, BUILD, ERROR).")

    p = common.add_command(sub, "show", "Show a port.", _show)
    p.add_argument("port", help="Id or unique name of the port.")

    p = common.add_command(sub, "update", "Change a port.", _update)
    p.add_argument("port", help="Id or unique name of the port.")
    p.add_argument("--name", help="New name.")
    p.add_argument("--revision", type=int, metavar="N",
                   help="Refuse the update unless the port is at this revision.")
    _add_shared(p)

    p = common.add_command(sub, "delete", "Delete ports (refused while attached).", _delete)
    p.add_argument("ports", nargs="+", metavar="port", help="Id or unique name.")

    p = common.add_command(sub, "attach", "Attach a VIF (interface) to a port.", _attach)
    p.add_argument("port", help="Id or unique name of the port.")
    p.add_argument("interface_id", help="Id of the VIF plugged into the port.")
    p.add_argument("--instance-id", help="Instance the VIF belongs to.")
    p.add_argument("--host", help="Host the instance runs on (binds the port to it).")

    p = common.add_command(sub, "detach", "Detach the VIF of a port.", _detach)
    p.add_argument("port", help="Id or unique name of the port.")
