"""``naas security-group`` and ``naas security-group-rule``: who may talk to a port."""

from __future__ import annotations

from typing import Any

from naas_lib.cli import resource
from naas_lib.cli.resource import Option

SECURITY_GROUP = resource.Resource(
    name="security_group",
    help="Manage security groups (stateful filters applied to the ports in them).",
    columns=("id", "name", "description", "tenant_id"),
    create=(
        Option("name", "Name of the group."),
        Option("--description", "Free text."),
        resource.owner(),
    ),
    filters=(
        Option("--name", "Only groups with this name."),
        resource.owner("Only groups of this project."),
    ),
    update=(Option("--name", "New name."), Option("--description", "Free text.")),
    create_help="Create a security group (it starts with the two egress-anything rules).",
    delete_help="Delete security groups (refused while a port uses them).",
)

SECURITY_GROUP_RULE = resource.Resource(
    name="security_group_rule",
    help="Manage the rules of security groups.",
    columns=("id", "security_group_id", "direction", "ethertype", "protocol",
             "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id"),
    create=(
        Option("group", "Id or unique name of the security group.",
               attr="security_group_id", ref="security_group"),
        Option("--direction", "Traffic to the port (ingress) or from it (egress).",
               choices=("ingress", "egress")),
        Option("--ethertype", "IP version of the rule (default IPv4).",
               choices=("IPv4", "IPv6")),
        Option("--protocol", "tcp, udp, icmp, icmpv6 or a protocol number (default any)."),
        Option("--port-range-min", "First port (or ICMP type).", type=int),
        Option("--port-range-max", "Last port (or ICMP code).", type=int),
        Option("--remote-ip-prefix", "Only peers in this CIDR.", metavar="CIDR"),
        Option("--remote-group", "Only peers that are members of this group.",
               attr="remote_group_id", ref="security_group"),
        resource.owner(),
    ),
    filters=(
        Option("--group", "Only rules of this group.", attr="security_group_id",
               ref="security_group"),
        Option("--direction", "Only rules of this direction.", choices=("ingress", "egress")),
    ),
    update=None,
    create_help="Add a rule to a security group (a duplicate is refused).",
    delete_help="Delete security group rules.",
)


def register(subparsers: Any) -> None:
    """Add ``naas security-group ...`` and ``naas security-group-rule ...``."""
    resource.register(subparsers, SECURITY_GROUP)
    resource.register(subparsers, SECURITY_GROUP_RULE)


