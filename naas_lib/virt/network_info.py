"""An instance's network info, shaped like Nova's network model.

Nova describes each NIC of an instance as a ``nova.network.model.VIF``: a
dictionary whose ``network`` holds ``subnets`` holding ``ips``. Nova's virt
drivers (libvirt's ``get_config``, os-vif's conversion, config drive) read
those keys, so the provisioner returns plain dictionaries with the same keys
and Nova can wrap them in its own classes unchanged
(``nova.network.model.NetworkInfo.hydrate``). The mapping from naas_lib's
objects is pure: no database, no I/O. ``doc/source/nova.rst`` documents it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import netaddr

from naas_lib import constants, objects

VNIC_TYPE_NORMAL = "normal"


def device_name(port: objects.Port) -> str:
    """The host-side device of a port: the driver's choice, else ``tap`` + id prefix."""
    name = port.binding_vif_details.get("devname")
    if name:
        return str(name)
    return (constants.TAP_PREFIX + port.id)[: constants.NOVA_DEVNAME_LEN]


def _ip(address: str, kind: str) -> dict[str, Any]:
    """Nova's ``IP`` model (``FixedIP`` when ``kind`` is 'fixed')."""
    entry: dict[str, Any] = {
        "address": address,
        "type": kind,
        "version": netaddr.IPAddress(address).version,
        "meta": {},
    }
    if kind == "fixed":
        entry["floating_ips"] = []
    return entry


def subnet_info(subnet: objects.Subnet, addresses: Iterable[str],
                dhcp_server: str | None = None) -> dict[str, Any]:
    """Nova's ``Subnet`` model: cidr, gateway, dns, routes and this port's ``ips``.

    ``dhcp_server`` is the DHCP responders' address when the port's host
    answers DHCP on this subnet, else None: Nova's config drive
    (``get_network_metadata``) then gives the guest a DHCP network or a
    static address, so it must be set only when something will answer.
    """
    meta: dict[str, Any] = {"dhcp_server": dhcp_server if subnet.enable_dhcp else None,
                            "enable_dhcp": subnet.enable_dhcp}
    if getattr(subnet, "ipv6_address_mode", None):
        meta["ipv6_address_mode"] = subnet.ipv6_address_mode
    gateway = _ip(subnet.gateway_ip, "gateway") if subnet.gateway_ip else None
    return {
        "cidr": subnet.cidr,
        "version": subnet.ip_version,
        "gateway": gateway,
        "dns": [_ip(d, "dns") for d in subnet.dns_nameservers],
        "routes": [
            {"cidr": r.destination, "gateway": _ip(r.nexthop, "gateway"), "interface": None,
             "meta": {}}
            for r in subnet.host_routes
        ],
        "ips": [_ip(a, "fixed") for a in addresses],
        "meta": meta,
    }


def network_info_for(
    network: objects.Network,
    subnets: Sequence[objects.Subnet],
    port: objects.Port,
    dhcp_servers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Nova's ``Network`` model for ``port``: only subnets the port has addresses on.

    ``dhcp_servers`` maps subnet id to the DHCP server address, for the
    subnets on which the port's host answers DHCP (see :func:`subnet_info`).
    """
    servers = dhcp_servers or {}
    by_subnet: dict[str, list[str]] = {}
    for fip in port.fixed_ips:
        by_subnet.setdefault(fip.subnet_id, []).append(fip.ip_address)
    return {
        "id": network.id,
        "bridge": port.binding_vif_details.get("bridge_name"),
        "label": network.name,
        "subnets": [subnet_info(s, by_subnet[s.id], servers.get(s.id))
                    for s in subnets if s.id in by_subnet],
        "meta": {
            "mtu": network.mtu,
            "tenant_id": network.project_id,
            "injected": False,
            "physical_network": network.physical_network,
            "tunneled": network.network_type == constants.TYPE_VXLAN,
            "should_create_bridge": False,
        },
    }


def vif_info(
    port: objects.Port,
    network: objects.Network,
    subnets: Sequence[objects.Subnet],
    preserve_on_delete: bool,
    dhcp_servers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Nova's ``VIF`` model for one bound port.

    ``preserve_on_delete`` is true for a port the caller brought (Nova keeps
    such ports when the instance is deleted, as the provisioner does).
    """
    details = dict(port.binding_vif_details)
    details.setdefault("mtu", network.mtu)
    return {
        "id": port.id,
        "address": port.mac_address,
        "type": port.binding_vif_type,
        "details": details,
        "devname": device_name(port),
        "ovs_interfaceid": None,
        "qbh_params": None,
        "qbg_params": None,
        "active": port.status == constants.PORT_STATUS_ACTIVE,
        "vnic_type": VNIC_TYPE_NORMAL,
        "profile": dict(port.binding_profile),
        "preserve_on_delete": preserve_on_delete,
        "delegate_create": False,
        "meta": {},
        "network": network_info_for(network, subnets, port, dhcp_servers),
    }


def dhcp_servers(host_capabilities: Mapping[str, Any] | None,
                 reserved: Mapping[str, str]) -> dict[str, str]:
    """Subnet id -> DHCP server address, when the host's driver declares ``dhcp``.

    The truth comes from the hosts table (the capability the host recorded),
    never from whether a responder happens to be running yet: the host starts
    one with the guest's port. ``reserved`` maps subnet id to the address
    reserved for the responders (their ``network:dhcp`` port).
    """
    if not (host_capabilities or {}).get("dhcp"):
        return {}
    return dict(reserved)


def vif_mtu(vif: Mapping[str, Any]) -> int | None:
    """The MTU of a VIF dictionary: its details first, then its network's meta."""
    mtu = (vif.get("details") or {}).get("mtu")
    if mtu is None:
        mtu = ((vif.get("network") or {}).get("meta") or {}).get("mtu")
    return int(mtu) if mtu is not None else None
