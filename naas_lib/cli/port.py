"""``naas port``: ports and their attachments (attach/detach a VIF)."""

from __future__ import annotations

import argparse
from typing import Any

from naas_lib import wire
from naas_lib.cli import common, output, resource
from naas_lib.cli.resource import Option

#: ``--fixed-ip`` keys and the attribute each one names.
_FIXED_IP_KEYS = {"subnet": "subnet_id", "subnet_id": "subnet_id", "ip-address": "ip_address",
                  "ip_address": "ip_address", "ip": "ip_address"}


def fixed_ip(text: str) -> dict[str, str]:
    """An argparse type for ``subnet=ID``, ``ip-address=IP`` or both, comma separated."""
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        attr = _FIXED_IP_KEYS.get(key.strip())
        if not sep or attr is None or not value:
            raise argparse.ArgumentTypeError(f"{text!r} is not subnet=ID[,ip-address=IP]")
        out[attr] = value.strip()
    return out


#: What ``create`` and ``update`` both accept.
def _address_pair(text: str) -> dict[str, str]:
    """``ip-address=IP[,mac-address=MAC]``, an allowed address pair."""
    try:
        return common.pairs("ip_address", "mac_address")(text)
    except argparse.ArgumentTypeError:
        return common.pairs("ip_address")(text)


_CHANGEABLE = (
    Option("--description", "Free text."),
    Option("--admin-state-up", "Administrative state.", type=common.boolean, metavar="BOOL"),
    Option("--mac-address", "MAC address (default: generated).", metavar="MAC"),
    Option("--fixed-ip", "Address to allocate; may be repeated (default: one per subnet).",
           attr="fixed_ips", type=fixed_ip, metavar="subnet=ID[,ip-address=IP]", repeat=True),
    Option("--device-id", "Id of the device using the port (e.g. instance)."),
    Option("--device-owner", "Kind of device using the port (compute:nova ...)."),
    Option("--host", "Bind the port to this host (admin only).", attr="binding_host_id"),
    # The --no- forms come first: with both, the port gets exactly the groups (pairs) given.
    Option("--no-security-group", "No security groups (with --security-group: only those).",
           attr="security_groups", clears=True),
    Option("--no-allowed-address", "No allowed address pairs (with --allowed-address: only "
           "those).", attr="allowed_address_pairs", clears=True),
    Option("--security-group", "Id of a security group of the port; may be repeated "
           "(default: the project's default group).", attr="security_groups", repeat=True,
           metavar="GROUP_ID"),
    Option("--allowed-address", "Extra address (or CIDR) the port may send from, with an "
           "optional MAC; may be repeated.", attr="allowed_address_pairs", type=_address_pair,
           metavar="ip-address=IP[,mac-address=MAC]", repeat=True),
    Option("--port-security", "Anti-spoofing and security groups on (true) or off (false).",
           attr="port_security_enabled", type=common.boolean, metavar="BOOL"),
)

PORT = resource.Resource(
    name="port",
    help="Manage ports and their attachments.",
    columns=("id", "name", "network_id", "mac_address", "fixed_ips", "status",
             "binding:host_id"),
    create=(
        resource.network_ref("Id or unique name of the network."),
        Option("--name", "Name of the port."),
        resource.owner(),
        *_CHANGEABLE,
    ),
    filters=(
        resource.network_ref("Only ports of this network (id or name).", flag=True),
        Option("--name", "Only ports with this name."),
        Option("--device-id", "Only ports of this device."),
        Option("--host", "Only ports bound to this host.", attr="binding_host_id"),
        Option("--status", "Only ports in this status (ACTIVE, DOWN, BUILD, ERROR)."),
    ),
    update=(Option("--name", "New name."), *_CHANGEABLE),
    create_help="Create a port on a network.",
    delete_help="Delete ports (refused while attached).",
)


def _unset(args: argparse.Namespace) -> None:
    """Remove the named groups and pairs from a port, keeping the others."""
    port = common.find(args, "port", args.ref)
    attrs: dict[str, Any] = {}
    if args.security_group:
        gone = {common.find(args, "security_group", g).id for g in args.security_group}
        attrs["security_groups"] = [g for g in port.security_groups if g not in gone]
    if args.allowed_address:
        def named(pair: Any) -> bool:
            return any(pair.ip_address == a["ip_address"]
                       and a.get("mac_address") in (None, pair.mac_address)
                       for a in args.allowed_address)
        attrs["allowed_address_pairs"] = [
            {"ip_address": p.ip_address, "mac_address": p.mac_address}
            for p in port.allowed_address_pairs if not named(p)]
    if not attrs:
        raise common.CommandError("nothing to unset; give --security-group or "
                                  "--allowed-address")
    updated = common.service(args).update_port(
        common.context(args), port.id, expected_revision=port.revision_number, **attrs)
    output.show_one(args, wire.port_to_wire(updated))


def _attach(args: argparse.Namespace) -> None:
    port = common.find(args, "port", args.port)
    att = common.service(args).attach_port(
        common.context(args), port.id, args.interface_id, instance_id=args.instance_id,
        host=args.host)
    output.show_one(args, wire.attachment_to_wire(att))


def _detach(args: argparse.Namespace) -> None:
    port = common.find(args, "port", args.port)
    att = common.service(args).detach_port(common.context(args), port.id)
    output.show_one(args, wire.attachment_to_wire(att))


def register(subparsers: Any) -> None:
    """Add ``naas port ...`` to the top-level subparsers."""
    sub = resource.register(subparsers, PORT)

    # The openstack CLI's names: "set" is "update"; "unset" removes single groups or pairs.
    p = common.add_command(sub, "set", "Change a port (the same as update).",
                           resource.update_handler(PORT, PORT.update or ()), prints="one")
    p.add_argument("ref", metavar="port", help=PORT.ref_help())
    for opt in PORT.update or ():
        opt.add_to(p)
    p.add_argument("--revision", type=int, metavar="N",
                   help="Refuse the change unless the port is at this revision.")
    p = common.add_command(sub, "unset", "Remove security groups or allowed address pairs "
                           "from a port, keeping the others.", _unset, prints="one")
    p.add_argument("ref", metavar="port", help=PORT.ref_help())
    p.add_argument("--security-group", action="append", metavar="GROUP",
                   help="Id or unique name of a group to remove; may be repeated.")
    p.add_argument("--allowed-address", action="append", type=_address_pair,
                   metavar="ip-address=IP[,mac-address=MAC]",
                   help="Pair to remove (any MAC when none is given); may be repeated.")

    p = common.add_command(sub, "attach", "Attach a VIF (interface) to a port.", _attach,
                           prints="one")
    p.add_argument("port", help=PORT.ref_help())
    p.add_argument("interface_id", help="Id of the VIF plugged into the port.")
    p.add_argument("--instance-id", help="Instance the VIF belongs to.")
    p.add_argument("--host", help="Host the instance runs on (binds the port to it).")

    p = common.add_command(sub, "detach", "Detach the VIF of a port.", _detach, prints="one")
    p.add_argument("port", help=PORT.ref_help())
