"""``naas subnet``: create, list, show, update and delete subnets."""

from __future__ import annotations

from typing import Any

from naas_lib.cli import common, resource
from naas_lib.cli.resource import Option

#: What ``create`` and ``update`` both accept.
_CHANGEABLE = (
    Option("--description", "Free text."),
    Option("--gateway", "Gateway address (default: first address).", attr="gateway_ip",
           metavar="IP"),
    Option("--no-gateway", "No gateway on this subnet.", attr="gateway_ip", clears=True),
    Option("--dns-nameserver", "DNS server handed to guests; may be repeated.",
           attr="dns_nameservers", metavar="IP", repeat=True),
    Option("--host-route", "Static route handed to guests; may be repeated.",
           attr="host_routes", type=common.pairs("destination", "nexthop"),
           metavar="destination=CIDR,nexthop=IP", repeat=True),
    Option("--enable-dhcp", "Whether addresses are handed out by DHCP (default true).",
           type=common.boolean, metavar="BOOL"),
)

SUBNET = resource.Resource(
    name="subnet",
    help="Manage subnets (IP ranges of a network).",
    columns=("id", "name", "network_id", "cidr", "gateway_ip", "allocation_pools"),
    create=(
        resource.network_ref("Id or unique name of the network."),
        Option("cidr", "Address range, e.g. 10.0.0.0/24 or 2001:db8::/64."),
        Option("--name", "Name of the subnet."),
        Option("--ip-version", "IP version (default: that of the CIDR).", type=int,
               choices=(4, 6)),
        Option("--allocation-pool", "Range addresses are allocated from; may be repeated.",
               attr="allocation_pools", type=common.pairs("start", "end"),
               metavar="start=IP,end=IP", repeat=True),
        resource.owner(),
        *_CHANGEABLE,
    ),
    filters=(
        resource.network_ref("Only subnets of this network (id or name).", flag=True),
        Option("--name", "Only subnets with this name."),
        Option("--ip-version", "Only this IP version.", type=int, choices=(4, 6)),
        Option("--cidr", "Only subnets with this CIDR."),
    ),
    update=(Option("--name", "New name."), *_CHANGEABLE),
    create_help="Create a subnet on a network.",
    delete_help="Delete subnets (refused while addresses are used).",
)


def register(subparsers: Any) -> None:
    """Add ``naas subnet ...`` to the top-level subparsers."""
    resource.register(subparsers, SUBNET)
