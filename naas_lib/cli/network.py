"""``naas network``: create, list, show, update and delete networks."""

from __future__ import annotations

from typing import Any

from naas_lib import constants
from naas_lib.cli import common, resource
from naas_lib.cli.resource import Option

#: What ``create`` and ``update`` both accept.
_CHANGEABLE = (
    Option("--description", "Free text."),
    Option("--shared", "Visible to every project (admin only).", type=common.boolean,
           metavar="BOOL"),
    Option("--admin-state-up", "Administrative state (default true).", type=common.boolean,
           metavar="BOOL"),
    Option("--mtu", "MTU (default: the largest the segment allows).", type=int),
)

NETWORK = resource.Resource(
    name="network",
    help="Manage networks.",
    columns=("id", "name", "provider:network_type", "provider:segmentation_id", "mtu",
             "shared", "status", "subnets"),
    create=(
        Option("name", "Name of the network."),
        *_CHANGEABLE,
        Option("--network-type", "Provider network type (admin only).",
               choices=constants.NETWORK_TYPES),
        Option("--segmentation-id", "VNI or VLAN id (admin only).", type=int),
        Option("--physical-network", "Physical network of a flat or vlan network."),
        resource.owner("Project that owns the network (admin only)."),
    ),
    filters=(
        Option("--name", "Only networks with this name."),
        Option("--network-type", "Only networks of this type."),
        Option("--shared", "Only shared (true) or unshared (false) networks.",
               type=common.boolean, metavar="BOOL"),
        resource.owner("Only networks of this project."),
    ),
    update=(Option("--name", "New name."), *_CHANGEABLE),
    delete_help="Delete networks (refused while ports are attached).",
)


def register(subparsers: Any) -> None:
    """Add ``naas network ...`` to the top-level subparsers."""
    resource.register(subparsers, NETWORK)
