"""MTU arithmetic: a network's MTU is the physical MTU minus encapsulation."""

from __future__ import annotations

from collections.abc import Mapping

from naas_lib import constants


def physical_mtu(
    global_mtu: int, physnet_mtus: Mapping[str, int], physical_network: str | None
) -> int:
    """The MTU of the wire a network rides on."""
    if physical_network and physical_network in physnet_mtus:
        return int(physnet_mtus[physical_network])
    return global_mtu


def max_network_mtu(network_type: str, wire_mtu: int) -> int:
    """The largest MTU a guest on a network of this type can use without fragmentation."""
    return wire_mtu - constants.ENCAP_OVERHEAD.get(network_type, 0)
