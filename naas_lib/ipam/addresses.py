"""Pure subnet arithmetic on netaddr: gateways, pools and usable addresses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import netaddr

from naas_lib import exceptions as exc
from naas_lib import validation

KEY_WIDTH = 32  # hex digits: 128 bits, so IPv4 and IPv6 keys share one column type


def to_key(value: int) -> str:
    """Fixed-width hex: sorts and compares as strings exactly as the integers do."""
    return format(value, f"0{KEY_WIDTH}x")


def from_key(key: str) -> int:
    return int(key, 16)


def first_host(net: netaddr.IPNetwork) -> netaddr.IPAddress:
    return netaddr.IPAddress(net.first + 1, net.version)


def last_host(net: netaddr.IPNetwork) -> netaddr.IPAddress:
    """IPv4 keeps the broadcast address out; IPv6 has none."""
    return netaddr.IPAddress(net.last - 1 if net.version == 4 else net.last, net.version)


def is_reserved(net: netaddr.IPNetwork, addr: netaddr.IPAddress) -> bool:
    """Network address (and IPv6's subnet-router anycast) and the IPv4 broadcast."""
    value = int(addr)
    return value == net.first or (net.version == 4 and value == net.last)


def default_pools(net: netaddr.IPNetwork, gateway: netaddr.IPAddress | None) -> list[tuple]:
    """The whole host range, split around the gateway."""
    lo, hi = net.first + 1, int(last_host(net))
    if gateway is None or not lo <= int(gateway) <= hi:
        return [(lo, hi)] if lo <= hi else []
    g = int(gateway)
    pools = []
    if lo <= g - 1:
        pools.append((lo, g - 1))
    if g + 1 <= hi:
        pools.append((g + 1, hi))
    return pools


def parse_gateway(
    net: netaddr.IPNetwork, value: Any, explicit: bool
) -> netaddr.IPAddress | None:
    """Automatic (first host) when not given, explicit when given, none for None."""
    if not explicit:
        return first_host(net)
    if value is None or value == "":
        return None
    gw = validation.ip_address("gateway_ip", value, net.version)
    if gw not in net or is_reserved(net, gw):
        raise exc.InvalidInput(
            field="gateway_ip", reason=f"{gw} is not a usable address of {net.cidr}"
        )
    return gw


def parse_pools(
    net: netaddr.IPNetwork, pools: Iterable[Any], gateway: netaddr.IPAddress | None
) -> list[tuple[int, int]]:
    """Validate requested pools: inside the subnet, ordered, disjoint, gateway outside."""
    if not isinstance(pools, (list, tuple)):
        raise exc.InvalidInput(field="allocation_pools", reason="must be a list")
    parsed: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, Mapping) or set(pool) != {"start", "end"}:
            raise exc.InvalidAllocationPool(pool=pool, reason="expected {'start', 'end'}")
        start = validation.ip_address("allocation_pools", pool["start"], net.version)
        end = validation.ip_address("allocation_pools", pool["end"], net.version)
        label = f"{start}-{end}"
        if start > end:
            raise exc.InvalidAllocationPool(pool=label, reason="start is after end")
        if start not in net or end not in net:
            raise exc.InvalidAllocationPool(pool=label, reason=f"not inside {net.cidr}")
        if is_reserved(net, start) or is_reserved(net, end):
            raise exc.InvalidAllocationPool(
                pool=label, reason="includes the network or broadcast address"
            )
        if gateway is not None and int(start) <= int(gateway) <= int(end):
            raise exc.GatewayConflictWithAllocationPools(gateway_ip=str(gateway), pool=label)
        parsed.append((int(start), int(end)))
    parsed.sort()
    for (_, prev_end), (start, end) in zip(parsed, parsed[1:], strict=False):
        if start <= prev_end:
            raise exc.InvalidAllocationPool(
                pool=f"{netaddr.IPAddress(start, net.version)}-"
                f"{netaddr.IPAddress(end, net.version)}",
                reason="overlaps another pool",
            )
    return parsed


def pool_containing(pools: Iterable[tuple[Any, int, int]], value: int) -> Any | None:
    """The id of the (id, first, last) pool holding ``value``, if any."""
    for pool_id, first, last in pools:
        if first <= value <= last:
            return pool_id
    return None


def check_fixed_ip(
    net: netaddr.IPNetwork,
    addr: netaddr.IPAddress,
    gateway: str | None,
    subnet_id: str,
) -> None:
    """A requested fixed IP must be a usable host address of the subnet."""
    if addr.version != net.version or addr not in net or is_reserved(net, addr):
        raise exc.InvalidIpForSubnet(ip_address=str(addr), subnet_id=subnet_id)
    if gateway is not None and str(addr) == gateway:
        raise exc.InvalidIpForSubnet(ip_address=str(addr), subnet_id=subnet_id)
