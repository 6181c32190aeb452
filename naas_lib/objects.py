"""Immutable result objects returned by :class:`naas_lib.NetworkService`.

Callers never see ORM rows: each object is a frozen snapshot with Neutron's
attribute names (``provider:*`` and ``binding:*`` spelled as Python
identifiers). ``to_dict()`` gives a plain, JSON-friendly dictionary.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import types
from collections.abc import Iterator, Mapping
from typing import Any

from naas_lib import exceptions as exc


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, types.MappingProxyType):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


#: Values that are already plain: returned as they are, before any other test.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of ``value`` (nested objects, mappings and tuples included).

    The exact types objects hold are tested first (a string or a number
    costs one set lookup): an API list of ports converts every attribute
    of every port through here.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple or kind is list:
        return [_plain(v) for v in value]
    if kind is types.MappingProxyType or kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value


@functools.cache
def field_names(cls: type) -> tuple[str, ...]:
    """The dataclass fields of ``cls``, in order (computed once per class)."""
    return tuple(f.name for f in dataclasses.fields(cls))


class _Resource:
    """Mixin: dictionary view, copy with changes, and field filtering."""

    def to_dict(self, fields: list[str] | None = None) -> dict[str, Any]:
        names = field_names(type(self))
        if fields is not None and not (isinstance(fields, (list, tuple, set, frozenset))
                                       and all(isinstance(f, str) for f in fields)):
            raise exc.InvalidInput(field="fields", reason="must be a list of attribute names")
        if fields:
            names = tuple(n for n in names if n in fields)
        return {n: _plain(getattr(self, n)) for n in names}

    def plain_items(self) -> Iterator[tuple[str, Any]]:
        """``to_dict().items()`` without building the dictionary (the wire mapping's input)."""
        for name in field_names(type(self)):
            yield name, _plain(getattr(self, name))

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def __getitem__(self, key: str) -> Any:
        """Dictionary-style read access, for callers used to Neutron's dicts."""
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


class _Owned(_Resource):
    """A resource of a project; ``tenant_id`` is Neutron's older name for it."""

    @property
    def tenant_id(self) -> str:
        return self.project_id  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class AllocationPool(_Resource):
    start: str
    end: str


@dataclasses.dataclass(frozen=True)
class HostRoute(_Resource):
    destination: str
    nexthop: str


@dataclasses.dataclass(frozen=True)
class FixedIp(_Resource):
    subnet_id: str
    ip_address: str


@dataclasses.dataclass(frozen=True)
class Network(_Owned):
    id: str
    project_id: str
    name: str
    description: str
    admin_state_up: bool
    status: str
    shared: bool
    mtu: int
    network_type: str
    segmentation_id: int | None
    physical_network: str | None
    subnets: tuple[str, ...]
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    #: A new port on the network takes this value unless its request says.
    port_security_enabled: bool = True


@dataclasses.dataclass(frozen=True)
class Subnet(_Owned):
    id: str
    project_id: str
    network_id: str
    name: str
    description: str
    ip_version: int
    cidr: str
    gateway_ip: str | None
    allocation_pools: tuple[AllocationPool, ...]
    dns_nameservers: tuple[str, ...]
    host_routes: tuple[HostRoute, ...]
    enable_dhcp: bool
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None


@dataclasses.dataclass(frozen=True)
class AddressPair(_Resource):
    """An extra address (an IP or a CIDR) a port may send from, with the MAC it uses."""

    ip_address: str
    mac_address: str


@dataclasses.dataclass(frozen=True)
class Port(_Owned):
    id: str
    project_id: str
    network_id: str
    name: str
    description: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...]
    admin_state_up: bool
    status: str
    status_reason: str | None
    device_id: str
    device_owner: str
    binding_host_id: str | None
    binding_profile: Mapping[str, Any]
    binding_vif_type: str
    binding_vif_details: Mapping[str, Any]
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    #: Anti-spoofing and security groups enforced on the port's host.
    port_security_enabled: bool = False
    #: Ids of the port's security groups, sorted.
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "binding_profile", _freeze(self.binding_profile or {}))
        object.__setattr__(self, "binding_vif_details", _freeze(self.binding_vif_details or {}))


@dataclasses.dataclass(frozen=True)
class SecurityGroupRule(_Owned):
    """One rule of a security group, in Neutron's shape.

    For ICMP, ``port_range_min``/``max`` are the ICMP type and code.
    """

    id: str
    project_id: str
    security_group_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class SecurityGroup(_Owned):
    """A project's security group with its rules."""

    id: str
    project_id: str
    name: str
    description: str
    security_group_rules: tuple[SecurityGroupRule, ...]
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    #: Connection tracking always applies (Neutron's ``stateful``).
    stateful: bool = True


@dataclasses.dataclass(frozen=True)
class PortBinding(_Resource):
    """A port's binding to one host (Neutron's port bindings extension)."""

    port_id: str
    host: str
    status: str
    vif_type: str
    vif_details: Mapping[str, Any]
    profile: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "vif_details", _freeze(self.vif_details or {}))
        object.__setattr__(self, "profile", _freeze(self.profile or {}))


@dataclasses.dataclass(frozen=True)
class Attachment(_Resource):
    port_id: str
    interface_id: str
    instance_id: str | None
    host: str | None
    owns_port: bool
    created_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class InstancePorts:
    """A boot's new ports and what its plug and network info need, from one transaction.

    Returned by ``create_instance_ports``: the ports (created, attached and
    bound), their networks by id, those networks' subnets by network id
    (ordered by subnet id), the DHCP responders' reserved addresses (subnet id
    -> address), the capabilities the attachments' hosts recorded, and
    ``plug_ahead``, to hand to ``plug_ports`` unchanged (None when no port is
    bound to the calling service's host).
    """

    ports: tuple[Port, ...]
    networks: Mapping[str, Network]
    subnets: Mapping[str, list[Subnet]] = dataclasses.field(default_factory=dict)
    dhcp_reserved: Mapping[str, str] = dataclasses.field(default_factory=dict)
    host_capabilities: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    plug_ahead: Any = None


@dataclasses.dataclass(frozen=True)
class Host(_Resource):
    name: str
    vxlan_endpoint: str | None
    driver: str | None
    capabilities: Mapping[str, Any]
    heartbeat_at: datetime.datetime
    alive: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", _freeze(self.capabilities or {}))
