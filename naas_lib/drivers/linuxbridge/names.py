"""Host device names of the Linux bridge driver.

Every name is a fixed prefix plus the start of a resource id, cut to the
kernel's IFNAMSIZ limit (15 visible characters). The prefixes are how
``sync`` recognises devices this driver owns: it never touches others.
"""

from __future__ import annotations

from naas_lib import constants

#: Prefixes of every device this driver makes; ``sync`` removes only these.
OWNED_PREFIXES = (constants.TAP_PREFIX, constants.VETH_HOST_PREFIX,
                  constants.BRIDGE_PREFIX, constants.VXLAN_PREFIX)
#: Prefixes of per-port devices (as opposed to per-network ones).
PORT_PREFIXES = (constants.TAP_PREFIX, constants.VETH_HOST_PREFIX)


#: Characters of a resource id kept after the prefix: Nova and Neutron name a
#: port's tap ``tap`` + 11 characters of its id (14 in all), and so do we.
ID_CHARS = 11


def _name(prefix: str, resource_id: str) -> str:
    return prefix + resource_id[:ID_CHARS]


def bridge(network_id: str) -> str:
    """The bridge of a network on this host: ``brq`` + 11 characters of its id."""
    return _name(constants.BRIDGE_PREFIX, network_id)


def vxlan(network_id: str) -> str:
    """The VXLAN device of a network: ``vxn`` + 11 characters of its id."""
    return _name(constants.VXLAN_PREFIX, network_id)


def tap(port_id: str) -> str:
    """The tap device a libvirt/QEMU guest opens for a port."""
    return _name(constants.TAP_PREFIX, port_id)


def veth_host(port_id: str) -> str:
    """The host end of the veth pair of a namespace guest's port."""
    return _name(constants.VETH_HOST_PREFIX, port_id)


def is_owned(name: str) -> bool:
    """Whether a device name carries one of this driver's prefixes."""
    return name.startswith(OWNED_PREFIXES)


def is_port_device(name: str) -> bool:
    return name.startswith(PORT_PREFIXES)
