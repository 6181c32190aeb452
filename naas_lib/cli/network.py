"""``naas network``: create, list, show, update and delete networks."""

from __future__ import annotations

from typing import Any

from naas_lib import constants
from naas_lib.cli import common, resource
from naas_lib.cli.resource import Option

_SHARED = Option("--shared", "Visible to every project (admin only).", type=common.boolean,
                 metavar="BOOL")
_STATE = Option("--admin-state-up", "Administrative state (default true).",
                type=common.boolean, metavar="BOOL")

NETWORK = resource.Resource(
    name="network",
    help="Manage networks.",
    columns=("id", "name", "provider:network_type", "provider:segmentation_id", "mtu",
             "shared", "status", "subnets"),
    create=(
        Option("name", "Name of the network."),
        Option("--description", "Free text."),
        _SHARED,
        _STATE,
        Option("--mtu", "MTU (default: the largest the segment allows).", type=int),
        Option("--network-type", "Provider network type (admin only).",
               choices=constants.NETWORK_TYPES),
        Option("--segmentation-id", "VNI or VLAN id (admin only).", type=int),
        Option("--physical-network", "Physical network of a flat or vlan network."),
        Option("--owner", "Project that owns the network (admin only).", attr="project_id",
               metavar="PROJECT"),
    ),
    filters=(
        Option("--name", "Only networks with this name."),
        Option("--network-type", "Only networks of this type."),
        Option("--shared", "Only shared (true) or unshared (false) networks.",
               type=common.boolean, metavar="BOOL"),
        Option("--owner", "Only networks of this project.", attr="project_id",
               metavar="PROJECT"),
    ),
    update=(
        Option("--name", "New name."),
        Option("--description", "New description."),
        _SHARED,
        _STATE,
        Option("--mtu", "New MTU.", type=int),
    ),
    delete_help="Delete networks (refused while ports are attached).",
)


def register(subparsers: Any) -> None:
    """Add ``naas network ...`` to the top-level subparsers."""
    resource.register(subparsers, NETWORK)
