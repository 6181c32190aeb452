"""DHCP in the database: the IPv6 mode rules and the responders' reserved addresses.

Every host runs its own responder for the ports bound to it (the Linux
bridge driver's ``DhcpManager``), and all of them answer from the same
address on a subnet, so that a guest sees one DHCP server wherever it runs.
That address is reserved from IPAM as Neutron reserves its DHCP agent's:
one port per network with ``device_owner='network:dhcp'`` and
``device_id='reserved_dhcp_port'``, owned by the network's project, never
bound, with one fixed IP on every subnet whose ``enable_dhcp`` is set. It
takes the *last* address of the subnet's pools (the first free one from the
top), so the addresses guests get do not move when DHCP is on.

Unlike Neutron's, that port is left out of port listings unless the filter
names a ``device_owner`` (``device_owner=network:dhcp`` finds it, which is
how Nova looks for a network's DHCP server), so a customer's listing holds
the ports the customer made; ``get_port`` by id shows it. It is written
here inside the subnet's own transaction (no port events are published for
it): created with the first DHCP subnet, given or relieved of
an address when a subnet is created, deleted or flips ``enable_dhcp``, and
deleted with the last one. A subnet's deletion does not count it as a user.
A subnet with no free address left is not served (and Nova, seeing no DHCP
server, gives its guests static addresses); the subnet operation never fails
because of the reservation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.ipam import addresses, allocator
from naas_lib.resources.binding import Binder

LOG = logging.getLogger(__name__)

SLAAC = "slaac"
DHCPV6_STATEFUL = "dhcpv6-stateful"
DHCPV6_STATELESS = "dhcpv6-stateless"
IPV6_MODES = (SLAAC, DHCPV6_STATEFUL, DHCPV6_STATELESS)
#: Neutron's device_id of a DHCP port that no agent has claimed yet.
RESERVED_DEVICE_ID = "reserved_dhcp_port"


def check_ipv6_modes(ip_version: int, cidr: str, enable_dhcp: bool, ra_mode: Any,
                     address_mode: Any) -> tuple[str | None, str | None]:
    """Validate Neutron's two IPv6 attributes together; returns them (None when unset).

    As Neutron: only on IPv6 subnets, one of ``slaac``, ``dhcpv6-stateful``,
    ``dhcpv6-stateless``; equal when both are set; not with DHCP off; SLAAC
    and stateless need a /64 (guests form EUI-64 addresses).
    """
    modes: list[str | None] = []
    for field, value in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
        if value is None:
            modes.append(None)
            continue
        if value not in IPV6_MODES:
            raise exc.InvalidInput(field=field, reason=f"{value!r} is not one of "
                                   + ", ".join(IPV6_MODES))
        if ip_version != 6:
            raise exc.InvalidInput(field=field, reason="only an IPv6 subnet has IPv6 modes")
        modes.append(value)
    ra, addr = modes
    if ra and addr and ra != addr:
        raise exc.InvalidInput(field="ipv6_ra_mode",
                               reason=f"ipv6_ra_mode {ra} differs from ipv6_address_mode {addr}")
    if (ra or addr) and not enable_dhcp:
        raise exc.InvalidInput(field="enable_dhcp", reason="ipv6_ra_mode or ipv6_address_mode "
                               "cannot be set when enable_dhcp is false")
    if (ra or addr) in (SLAAC, DHCPV6_STATELESS) and netaddr.IPNetwork(cidr).prefixlen != 64:
        raise exc.InvalidInput(field="ipv6_address_mode" if addr else "ipv6_ra_mode",
                               reason=f"{ra or addr} needs a /64 prefix, not {cidr}")
    return ra, addr


def _dhcp_port(session: orm.Session, network_id: str) -> models.Port | None:
    return session.scalars(sa.select(models.Port).where(
        models.Port.network_id == network_id,
        models.Port.device_owner == constants.DEVICE_OWNER_DHCP,
        models.Port.device_id == RESERVED_DEVICE_ID).limit(1)).first()


def is_reservation(port: Any) -> bool:
    """Whether a port object is a network's DHCP reservation port."""
    return (port.device_owner == constants.DEVICE_OWNER_DHCP
            and port.device_id == RESERVED_DEVICE_ID)


def not_reservation() -> sa.ColumnElement[bool]:
    """A ``where`` clause leaving the reservation ports out of a port query."""
    return sa.not_(sa.and_(models.Port.device_owner == constants.DEVICE_OWNER_DHCP,
                           models.Port.device_id == RESERVED_DEVICE_ID))


def dhcp_port_ids(session: orm.Session, network_id: str) -> list[str]:
    """Ids of the network's reservation port (none or one)."""
    port = _dhcp_port(session, network_id)
    return [port.id] if port is not None else []


def _top_free(session: orm.Session, subnet: models.Subnet) -> str | None:
    """The highest free address of the subnet's pools, else of the subnet itself.

    Outside the pools (a subnet whose addresses are all given explicitly) the
    highest usable host address nobody holds; None when there is none. At most
    ``len(taken) + 1`` probes per range, so a /8 or a /64 costs what a /28 does.
    """
    taken = set(session.scalars(sa.select(models.IpAllocation.ip_address).where(
        models.IpAllocation.subnet_id == subnet.id)))
    net = netaddr.IPNetwork(subnet.cidr)
    ranges = [(addresses.from_key(p.first_key), addresses.from_key(p.last_key))
              for p in session.scalars(sa.select(models.AllocationPool).where(
                  models.AllocationPool.subnet_id == subnet.id)
                  .order_by(models.AllocationPool.last_key.desc()))]
    ranges.append((net.first, net.last))
    for first, last in ranges:
        for value in range(last, max(first, last - len(taken) - 2) - 1, -1):
            addr = netaddr.IPAddress(value, net.version)
            ip = str(addr)
            if ip in taken or ip == subnet.gateway_ip or addresses.is_reserved(net, addr):
                continue
            return ip
    return None


def reconcile(session: orm.Session, network_id: str, mac: str) -> None:
    """Make the network's reservation port hold one address on each DHCP subnet, exactly.

    Runs inside the caller's write transaction, after the subnet rows say
    what they will be (a subnet being deleted is already gone or excluded by
    the caller). ``mac`` is used only when the port has to be made.
    """
    served = {s.id: s for s in session.scalars(sa.select(models.Subnet).where(
        models.Subnet.network_id == network_id, models.Subnet.enable_dhcp.is_(True)))}
    port = _dhcp_port(session, network_id)
    held = {} if port is None else dict(session.execute(
        sa.select(models.IpAllocation.subnet_id, models.IpAllocation.ip_address)
        .where(models.IpAllocation.port_id == port.id)).all())
    if port is not None:
        keep = [(s, ip) for s, ip in held.items() if s in served]
        if len(keep) != len(held):
            allocator.release(session, port.id, keep=keep)
        if not served:
            _delete_port(session, port.id)
            return
    missing = [s for s in served if s not in held]
    if not missing:
        return
    if port is None:
        net = session.get(models.Network, network_id)
        now = models.utcnow()
        port_id = str(uuid.uuid4())
        session.execute(sa.insert(models.Port.__table__).values(
            id=port_id, project_id=net.project_id, network_id=network_id,
            name="", description="DHCP responders' address (every host)", mac_address=mac,
            admin_state_up=True, status=constants.PORT_STATUS_ACTIVE, status_reason=None,
            device_id=RESERVED_DEVICE_ID, device_owner=constants.DEVICE_OWNER_DHCP,
            revision_number=1, created_at=now, updated_at=now))
        Binder.insert_unbound(session, [{"id": port_id}])  # never bound: ACTIVE, host ""
        port = session.get(models.Port, port_id)
    request = []
    for subnet_id in missing:
        top = _top_free(session, served[subnet_id])
        if top is None:  # nothing free: not served (Nova then gives static addresses)
            LOG.warning("Subnet %s has no free address for its DHCP responders; "
                        "it is not served by DHCP", subnet_id)
            continue
        request.append({"subnet_id": subnet_id, "ip_address": netaddr.IPAddress(top)})
    if not request:
        if not held:
            _delete_port(session, port.id)
        return
    allocator.allocate(session, port.id, network_id, request)
    session.execute(sa.update(models.Port).where(models.Port.id == port.id).values(
        revision_number=models.Port.revision_number + 1, updated_at=models.utcnow()))


def _delete_port(session: orm.Session, port_id: str) -> None:
    session.execute(sa.delete(models.PortBinding).where(models.PortBinding.port_id == port_id))
    session.execute(sa.delete(models.Port).where(models.Port.id == port_id))


_ips, _ports = models.IpAllocation.__table__, models.Port.__table__
_SERVER_ADDRESSES = (
    sa.select(_ips.c.subnet_id, _ips.c.ip_address)
    .join(_ports, _ports.c.id == _ips.c.port_id)
    .where(_ports.c.network_id.in_(sa.bindparam("ids", expanding=True)),
           _ports.c.device_owner == constants.DEVICE_OWNER_DHCP,
           _ports.c.device_id == RESERVED_DEVICE_ID))


_subnets = models.Subnet.__table__
_servers = _SERVER_ADDRESSES.subquery()
_SUBNETS_WITH_SERVERS = (
    sa.select(_subnets.c.id, _subnets.c.revision_number, _servers.c.ip_address)
    .select_from(_subnets.outerjoin(_servers, _servers.c.subnet_id == _subnets.c.id))
    .where(_subnets.c.network_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_subnets.c.id))


def subnet_revisions_and_servers(session: orm.Session, network_ids: Sequence[str]
                                 ) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """The networks' subnets as (id, revision), ordered by id, and :func:`server_addresses`
    of the same networks, in one statement (a boot reads both)."""
    if not network_ids:
        return [], {}
    revisions, reserved = [], {}
    for subnet_id, revision, ip in session.connection().execute(
            _SUBNETS_WITH_SERVERS, {"ids": list(network_ids)}):
        revisions.append((subnet_id, revision))
        if ip is not None:
            reserved[subnet_id] = ip
    return revisions, reserved


def server_addresses(session: orm.Session, network_ids: Iterable[str]) -> dict[str, str]:
    """Subnet id -> the responders' reserved address, for the given networks."""
    ids = list(network_ids)
    if not ids:
        return {}
    rows = session.connection().execute(_SERVER_ADDRESSES, {"ids": ids})
    return {subnet_id: ip for subnet_id, ip in rows}
