"""``naas service``: register higher-layer services and associate them with networks."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib import constants, wire
from naas_lib.cli import common, output, resource
from naas_lib.cli.network import NETWORK
from naas_lib.cli.resource import Option

SERVICE = resource.Resource(
    name="service",
    help="Register higher-layer services and associate them with networks.",
    columns=("id", "name", "service_type", "project_id", "network_ids"),
    create=(
        Option("name", "Name of the service."),
        Option("--type", "Kind of service.", attr="service_type",
               choices=constants.SERVICE_TYPES, required=True),
        Option("--description", "Free text."),
        resource.owner(),
    ),
    filters=(
        resource.network_ref("Only services associated with this network.", flag=True),
        Option("--type", "Only services of this kind.", attr="service_type",
               choices=constants.SERVICE_TYPES),
        Option("--name", "Only services with this name."),
    ),
    create_help="Register a service.",
    delete_help="Remove services and their associations.",
)

#: Columns of ``naas service networks``.
NETWORK_COLUMNS = ("id", "name", "project_id", "provider:network_type")


def _pair(args: argparse.Namespace) -> tuple[str, str]:
    """Ids of the service and the network named on the command line."""
    return (common.find(args, "service", args.service).id,
            common.find(args, "network", args.network).id)


def _associate(args: argparse.Namespace) -> None:
    assoc = common.service(args).associate_service(common.context(args), *_pair(args))
    output.show_one(args, wire.attachment_to_wire(assoc))


def _disassociate(args: argparse.Namespace) -> None:
    common.service(args).disassociate_service(common.context(args), *_pair(args))


def _networks(args: argparse.Namespace) -> None:
    svc = common.find(args, "service", args.service)
    nets = common.service(args).list_service_networks(common.context(args), svc.id)
    output.show_list(args, [NETWORK.to_wire(n) for n in nets], NETWORK_COLUMNS)


def register(subparsers: Any) -> None:
    """Add ``naas service ...`` to the top-level subparsers."""
    sub = resource.register(subparsers, SERVICE)
    for name, help_text, handler, prints in (
            ("associate", "Associate a service with a network.", _associate, "one"),
            ("disassociate", "Remove a service's association with a network.",
             _disassociate, None)):
        p = common.add_command(sub, name, help_text, handler, prints=prints)
        p.add_argument("service", help=SERVICE.ref_help())
        p.add_argument("network", help=NETWORK.ref_help())

    p = common.add_command(sub, "networks", "List the networks a service is associated with.",
                           _networks, prints="list")
    p.add_argument("service", help=SERVICE.ref_help())
