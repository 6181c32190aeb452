"""The driver contract: how a network becomes real on a host.

A third-party driver subclasses :class:`Driver` and ships it as an entry
point in the ``naas_lib.drivers`` namespace. The service loads only the
configured driver, hands it its own option group (never the global config)
and calls it in two phases around every database transaction:

* ``*_precommit`` runs inside the transaction: validate, veto by raising,
  no blocking I/O.
* ``*_postcommit`` runs after commit.

Binding (any process, database only) asks :meth:`Driver.bind_port` for the
VIF type and details; plugging (only on the bound host) makes and wires the
devices. ``plug``, ``unplug`` and removing a network's devices are
idempotent and compensated: a repeat is a no-op, and a failure part-way
leaves nothing half-made. ``sync`` makes the host match the database.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from oslo_config import cfg

from naas_lib import objects


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a driver can realize on this host; callers negotiate against it."""

    network_types: frozenset[str]
    vif_types: frozenset[str]
    max_mtu: int
    port_security: bool = False
    #: The driver answers DHCP (and IPv6 RAs) for its ports, so Nova may tell guests to use it.
    dhcp: bool = False

    def why_not(self, network_type: str | None = None, mtu: int | None = None,
                vif_type: str | None = None) -> str | None:
        """None when the request fits, else a readable reason."""
        if network_type is not None and network_type not in self.network_types:
            return (f"network type {network_type} is not supported "
                    f"(supported: {', '.join(sorted(self.network_types)) or 'none'})")
        if mtu is not None and mtu > self.max_mtu:
            return f"MTU {mtu} exceeds the largest supported MTU {self.max_mtu}"
        if vif_type is not None and vif_type not in self.vif_types:
            return f"VIF type {vif_type} is not supported"
        return None

    def supports(self, network_type: str | None = None, mtu: int | None = None,
                 vif_type: str | None = None) -> bool:
        return self.why_not(network_type, mtu, vif_type) is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "network_types": sorted(self.network_types),
            "vif_types": sorted(self.vif_types),
            "max_mtu": self.max_mtu,
            "port_security": self.port_security,
            "dhcp": self.dhcp,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capabilities:
        return cls(
            network_types=frozenset(data.get("network_types", ())),
            vif_types=frozenset(data.get("vif_types", ())),
            max_mtu=int(data.get("max_mtu", 0)),
            port_security=bool(data.get("port_security", False)),
            dhcp=bool(data.get("dhcp", False)),
        )


@dataclasses.dataclass(frozen=True)
class Binding:
    """The driver's answer to "how will a guest connect to this port here?"."""

    vif_type: str
    vif_details: Mapping[str, Any]


@dataclasses.dataclass
class SyncReport:
    """What a ``sync`` changed on the host, as readable device descriptions."""

    created: list[str] = dataclasses.field(default_factory=list)
    fixed: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    active_ports: list[str] = dataclasses.field(default_factory=list)
    failed_ports: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Ports realized but administratively down (port or network): DOWN, not ERROR.
    down_ports: list[str] = dataclasses.field(default_factory=list)
    #: Ports whose device the round found missing or off its bridge (and re-made):
    #: the service records them BUILD before ACTIVE again.
    repaired_ports: list[str] = dataclasses.field(default_factory=list)
    #: Filled by the service, not the driver: port id -> "OLD -> NEW" status.
    status_changes: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.fixed or self.removed or self.status_changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Peer:
    """Another live host with ports on a network, reached over its endpoint."""

    host: str
    endpoint: str


@dataclasses.dataclass(frozen=True)
class SecurityGroupState:
    """A security group as a host enforces it: its rules and its members' addresses.

    ``members`` are the fixed IPs and allowed address pairs of every port in
    the group, on every host (what ``remote_group_id`` rules match).
    """

    group: objects.SecurityGroup
    members: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DesiredState:
    """What the database says this host should have.

    ``ports`` are the ports bound to this host with their networks;
    ``peers`` maps a network id to the other live hosts that have ports on it;
    ``subnets`` maps subnet id to subnet for every subnet of the ports'
    networks (a driver that configures guest addresses needs prefix lengths
    and gateways; a DHCP responder serves them all).
    ``dhcp_addresses`` maps subnet id to the address reserved from IPAM for
    the DHCP responders on it (every host's responder shares it); a subnet
    absent from it is not served by DHCP.
    """

    host: str
    ports: Sequence[tuple[objects.Port, objects.Network]]
    peers: Mapping[str, Sequence[Peer]]
    subnets: Mapping[str, objects.Subnet] = dataclasses.field(default_factory=dict)
    dhcp_addresses: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: The security groups the ports use, and those their rules name as remote groups.
    security_groups: Mapping[str, SecurityGroupState] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class NetworkContext:
    current: objects.Network
    original: objects.Network | None = None
    session: Any = None


@dataclasses.dataclass(frozen=True)
class PortContext:
    current: objects.Port
    network: objects.Network
    original: objects.Port | None = None
    session: Any = None


class Driver(abc.ABC):
    """Base class of dataplane drivers."""

    #: Entry-point name, also the name of the driver's option group.
    name = "base"

    def __init__(self, conf: Any, host: str | None) -> None:
        """``conf`` is this driver's own option group (``conf[name]``)."""
        self.conf = conf
        self.host = host

    @classmethod
    def get_opts(cls) -> list[cfg.Opt]:
        """Options of the driver's group; registered by the loader."""
        return []

    # -- negotiation -------------------------------------------------------

    @abc.abstractmethod
    def describe(self) -> Capabilities:
        """What this driver can realize on this host with its configuration."""

    def check_network(self, network: objects.Network) -> str | None:
        """None when this host can realize ``network``, else why not (naming the option)."""
        caps = self.describe()
        return caps.why_not(network_type=network.network_type, mtu=network.mtu)

    @classmethod
    @abc.abstractmethod
    def bind_port(cls, port: objects.Port, network: objects.Network,
                  host: str | None = None) -> Binding:
        """Choose VIF type and details for ``port`` on ``host`` (no I/O).

        A classmethod, so it is pure by construction: a process binding a
        port for *another* host calls it on the class that host recorded,
        without configuring or building a driver. (An instance-method
        ``bind_port(self, port, network)`` still works, deprecated.)
        """

    def endpoint(self) -> str | None:
        """This host's VXLAN endpoint address (recorded in the hosts table), or None."""
        return None

    def physical_networks(self) -> list[str] | None:
        """Physical networks this host is wired to, or None when not restricted."""
        return None

    # -- two-phase hooks (default: nothing to do) ------------------------------

    def create_network_precommit(self, context: NetworkContext) -> None: ...
    def create_network_postcommit(self, context: NetworkContext) -> None: ...
    def update_network_precommit(self, context: NetworkContext) -> None: ...
    def update_network_postcommit(self, context: NetworkContext) -> None: ...
    def delete_network_precommit(self, context: NetworkContext) -> None: ...
    def delete_network_postcommit(self, context: NetworkContext) -> None: ...
    def create_port_precommit(self, context: PortContext) -> None: ...
    def create_port_postcommit(self, context: PortContext) -> None: ...
    def update_port_precommit(self, context: PortContext) -> None: ...
    def update_port_postcommit(self, context: PortContext) -> None: ...
    def delete_port_precommit(self, context: PortContext) -> None: ...
    def delete_port_postcommit(self, context: PortContext) -> None: ...

    # -- port security (drivers declaring ``port_security``; default: nothing) -----

    def update_security_group(self, state: SecurityGroupState) -> None:
        """A group's rules or members as they are now; also called before a member's plug.

        A driver reprograms the group where ports of this host use it and keeps
        it for the next plug. Called right after a change on the host that
        made it; other hosts get it through ``DesiredState.security_groups``.
        """

    def update_security_group_members(self, group_id: str, addresses: Sequence[str]) -> None:
        """A group's member addresses changed (a port joined, left or was re-addressed)."""

    def prepare_security_groups(self, states: Sequence[SecurityGroupState]) -> None:
        """The groups (and remote groups) of ports about to be plugged here.

        Only the groups that :meth:`security_group_revisions` does not list at
        their current revision are passed (all of them for a driver that keeps
        nothing). A driver may keep them and program them together with the
        port in one change; by default each is handed to
        :meth:`update_security_group`.
        """
        for state in states:
            self.update_security_group(state)

    def security_group_revisions(self) -> Mapping[str, int]:
        """The groups this driver holds (rules and members), by id, with the revision held.

        Before a plug the service reads only the revisions of the port's groups
        and hands :meth:`prepare_security_groups` the groups missing here or whose
        revision moved (a rule change moves it). A held group's members must then
        be kept current by the driver: :meth:`update_security_group_members` and
        ``sync`` bring every change, and the ports it plugs are members of their
        own groups. Default: nothing held, every plug gets every group afresh.
        """
        return {}

    # -- host side -----------------------------------------------------------

    @abc.abstractmethod
    def plug(self, port: objects.Port, network: objects.Network,
             subnets: Sequence[objects.Subnet] = ()) -> None:
        """Make and wire the port's devices on this host. Idempotent, compensated.

        ``subnets`` are the subnets of the port's fixed IPs (complete
        objects), always passed. A driver whose ``plug`` takes only
        ``(port, network)`` still loads, with a DeprecationWarning.
        """

    def plug_many(self, items: Sequence[tuple[objects.Port, objects.Network,
                                              Sequence[objects.Subnet]]]
                  ) -> dict[str, Exception]:
        """Plug several ports of this host at once (a boot's NICs, a host's ports).

        Returns the failures by port id (the others are plugged). A driver may
        program the ports together (the Linux bridge driver: their port
        security in one nft transaction); by default each is plugged in turn.
        """
        failed: dict[str, Exception] = {}
        for port, network, subnets in items:
            try:
                self.plug(port, network, subnets)
            except Exception as e:  # noqa: BLE001 - reported per port to the caller
                failed[port.id] = e
        return failed

    @abc.abstractmethod
    def unplug(self, port: objects.Port, network: objects.Network) -> None:
        """Remove the port's devices from this host. Idempotent."""

    def unplug_many(self, ports: Iterable[tuple[objects.Port, objects.Network]]) -> None:
        """Remove several ports' devices; drivers may batch this."""
        for port, network in ports:
            self.unplug(port, network)

    def unplug_many_overlapping(self, ports: Iterable[tuple[objects.Port, objects.Network]],
                                meanwhile: Callable[[list[str]], None] | None) -> None:
        """:meth:`unplug_many`, then the caller's refresh of the networks: ``meanwhile``.

        ``meanwhile`` is called once with the ids of the ports' networks whose
        host-side services still need :meth:`refresh_network` (the caller
        refreshes those after this returns, and only those). A driver whose
        removal waits on something outside the process (the kernel's grace
        period) calls it during that wait, so the caller's work overlaps it,
        and may leave out networks it brought up to date itself from what it
        knows. Default: remove, then all of them.
        """
        ports = list(ports)
        self.unplug_many(ports)
        if meanwhile is not None:
            meanwhile(list(dict.fromkeys(network.id for _port, network in ports)))

    def refresh_network(self, network_id: str, desired: DesiredState) -> None:
        """Apply a change of the network's subnets or local ports to host-side services now.

        ``desired`` covers only that network: this host's ports of it, all its
        subnets and their reserved DHCP addresses (no ports: nothing of the
        network is left here). Called after plugs, unplugs, subnet and port
        changes; ``sync`` remains the safety net. Default: nothing to do.
        """

    def is_plugged(self, port: objects.Port, network: objects.Network) -> bool:
        """Whether the port's device exists, is up and is wired (ACTIVE)."""
        return True

    @abc.abstractmethod
    def sync(self, desired: DesiredState) -> SyncReport:
        """Make this host match ``desired``; remove only devices this driver owns."""

    def close(self) -> None:
        """Release sockets and other resources."""
