"""``naas service``: register higher-layer services and associate them with networks."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib import wire
from naas_lib.cli import common
from naas_lib.constants import SERVICE_TYPES

LIST_COLUMNS = ("id", "name", "service_type", "project_id", "network_ids")


def _create(args: argparse.Namespace) -> None:
    svc = common.service(args).create_service(
        common.context(args), args.name, args.type, description=args.description or "",
        project_id=args.owner)
    common.emit(args, wire.service_to_wire(svc))


def _list(args: argparse.Namespace) -> None:
    network_id = common.find(args, "network", args.network).id if args.network else None
    svcs = common.service(args).list_services(
        common.context(args), network_id=network_id, service_type=args.type, name=args.name)
    common.emit(args, [wire.service_to_wire(s) for s in svcs], LIST_COLUMNS)


def _show(args: argparse.Namespace) -> None:
    common.emit(args, wire.service_to_wire(common.find(args, "service", args.service)))


def _delete(args: argparse.Namespace) -> None:
    for ident in args.services:
        svc = common.find(args, "service", ident)
        common.service(args).delete_service(common.context(args), svc.id)


def _associate(args: argparse.Namespace) -> None:
    svc = common.find(args, "service", args.service)
    net = common.find(args, "network", args.network)
    assoc = common.service(args).associate_service(common.context(args), svc.id, net.id)
    common.emit(args, wire.attachment_to_wire(assoc))


def _disassociate(args: argparse.Namespace) -> None:
    svc = common.find(args, "service", args.service)
    net = common.find(args, "network", args.network)
    common.service(args).disassociate_service(common.context(args), svc.id, net.id)


def _networks(args: argparse.Namespace) -> None:
    svc = common.find(args, "service", args.service)
    nets = common.service(args).list_service_networks(common.context(args), svc.id)
    common.emit(args, [wire.network_to_wire(n) for n in nets],
                ("id", "name", "project_id", "provider:network_type"))


def register(subparsers: Any) -> None:
    """Add ``naas service ...`` to the top-level subparsers."""
    sub = common.add_group(subparsers, "service",
                           "Register higher-layer services and associate them with networks.")

    p = common.add_command(sub, "create", "Register a service.", _create)
    p.add_argument("name", help="Name of the service.")
    p.add_argument("--type", required=True, choices=SERVICE_TYPES, help="Kind of service.")
    p.add_argument("--description", help="Free text.")
    p.add_argument("--owner", metavar="PROJECT", help="Owning project (admin only).")

    p = common.add_command(sub, "list", "List the services the caller may see.", _list)
    p.add_argument("--network", help="Only services associated with this network.")
    p.add_argument("--type", choices=SERVICE_TYPES, help="Only services of this kind.")
    p.add_argument("--name", help="Only services with this name.")

    p = common.add_command(sub, "show", "Show a service.", _show)
    p.add_argument("service", help="Id or unique name of the service.")

    p = common.add_command(sub, "delete", "Remove services and their associations.", _delete)
    p.add_argument("services", nargs="+", metavar="service", help="Id or unique name.")

    p = common.add_command(sub, "associate", "Associate a service with a network.", _associate)
    p.add_argument("service", help="Id or unique name of the service.")
    p.add_argument("network", help="Id or unique name of the network.")

    p = common.add_command(sub, "disassociate", "Remove a service's association with a network.",
                           _disassociate)
    p.add_argument("service", help="Id or unique name of the service.")
    p.add_argument("network", help="Id or unique name of the network.")

    p = common.add_command(sub, "networks", "List the networks a service is associated with.",
                           _networks)
    p.add_argument("service", help="Id or unique name of the service.")
