"""Subnets: the address ranges of a network, with pools, DNS servers and host routes."""

from __future__ import annotations

import uuid
from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.ipam import addresses, allocator
from naas_lib.resources import common, dhcp
from naas_lib.resources.core import Core
from naas_lib.resources.lifecycle import CREATE, DELETE, UPDATE, Lifecycle, Outcome, Phases
from naas_lib.resources.networks import Networks, check_writable, policy_target
from naas_lib.resources.plugging import Plugging

CREATE_FIELDS = ("network_id", "cidr", "ip_version", "name", "description", "gateway_ip",
                 "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp",
                 "ipv6_ra_mode", "ipv6_address_mode", "project_id", "tenant_id")
UPDATE_FIELDS = ("name", "description", "gateway_ip", "dns_nameservers", "host_routes",
                 "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode")
FILTERS = ("id", "project_id", "network_id", "name", "description", "ip_version", "cidr",
           "gateway_ip", "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode",
           "revision_number")


def _dns(values: Any, version: int) -> list[str]:
    out: list[str] = []
    for v in validation.name_list("dns_nameservers", values):
        addr = str(validation.ip_address("dns_nameservers", v))
        if addr in out:
            raise exc.InvalidInput(field="dns_nameservers", reason=f"{addr} is listed twice")
        out.append(addr)
    return out


def _routes(values: Any, version: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for r in validation.name_list("host_routes", values):
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise exc.InvalidInput(field="host_routes",
                                   reason="each route is {'destination', 'nexthop'}")
        try:
            dest = netaddr.IPNetwork(validation.string("host_routes", r["destination"], 64))
        except (netaddr.AddrFormatError, ValueError):
            raise exc.InvalidInput(field="host_routes",
                                   reason=f"{r['destination']!r} is not a CIDR") from None
        nexthop = validation.ip_address("host_routes", r["nexthop"], version)
        if dest.version != version:
            raise exc.InvalidInput(field="host_routes",
                                   reason=f"{dest} is not an IPv{version} destination")
        route = (str(dest.cidr), str(nexthop))
        if route in out:
            raise exc.InvalidInput(field="host_routes", reason=f"{route} is listed twice")
        out.append(route)
    return out


_LISTING = common.Listing(models.Subnet, "subnet", FILTERS, exc.SubnetNotFound, "subnet_id",
                          common.load_subnets)
_CREATE, _UPDATE, _DELETE = (Phases("subnet", a) for a in (CREATE, UPDATE, DELETE))


class Subnets:
    """create/get/list/update/delete of subnets."""

    def __init__(self, core: Core, lifecycle: Lifecycle, networks: Networks,
                 plugging: Plugging | None = None) -> None:
        self.core = core
        self.lifecycle = lifecycle
        self.networks = networks
        self.plugging = plugging

    def _refresh(self, outcomes: list[Outcome]) -> None:
        """A subnet change reaches this host's DHCP responder at once (others: next sync)."""
        if self.plugging is not None:
            for out in outcomes:
                self.plugging.refresh_network(out.latest.network_id)

    """create/get/list/update/delete of subnets."""

    def _subnet_row(self, session: orm.Session, context: RequestContext,
                    subnet_id: str) -> tuple[models.Subnet, models.Network]:
        row = session.get(models.Subnet, validation.lookup("subnet_id", subnet_id)) \
            if isinstance(subnet_id, str) else None
        net = session.get(models.Network, row.network_id) if row is not None else None
        if row is None or net is None or not self.core.authorize(
                context, "get_subnet", {"project_id": row.project_id, "shared": net.shared}):
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        return row, net

    def get_subnet(self, context: RequestContext, subnet_id: str,
                   fields: list[str] | None = None) -> objects.Subnet | dict[str, Any]:
        with self.core.db.reader() as session:
            row, _ = self._subnet_row(session, context, subnet_id)
            sub = common.load_subnets(session, [row])[0]
        return sub.to_dict(fields) if fields else sub

    def list_subnets(self, context: RequestContext,
                     fields: list[str] | None = None, limit: int | None = None,
                     marker: str | None = None, sorts: list[tuple[str, bool]] | None = None,
                     page_reverse: bool = False, **filters: Any) -> list:
        """Subnets the caller may see: its own and those of shared networks."""
        with self.core.db.reader() as session:
            q = sa.select(models.Subnet)
            if not context.is_admin:
                q = q.join(models.Network, models.Network.id == models.Subnet.network_id).where(
                    sa.or_(models.Subnet.project_id == context.project_id,
                           models.Network.shared.is_(True)))
            return common.list_page(session, q, _LISTING, filters, fields, limit, marker, sorts,
                                    page_reverse)

    def _create_request(self, context: RequestContext, attrs: dict[str, Any]
                        ) -> dict[str, Any]:
        """The validated attributes of a new subnet (no transaction)."""
        check_writable("subnet", attrs, CREATE_FIELDS)
        if "network_id" not in attrs or "cidr" not in attrs:
            raise exc.InvalidInput(field="network_id" if "network_id" not in attrs else "cidr",
                                   reason="required")
        network_id = validation.uuid_str("network_id", attrs["network_id"])
        version = attrs.get("ip_version")
        if version is not None:
            version = validation.integer("ip_version", version)
            if version not in (4, 6):
                raise exc.InvalidInput(field="ip_version", reason=f"{version} is not 4 or 6")
        cidr = validation.cidr(attrs["cidr"], version)
        gateway = addresses.parse_gateway(cidr, attrs.get("gateway_ip"), "gateway_ip" in attrs)
        if attrs.get("allocation_pools") is not None:
            pools = addresses.parse_pools(cidr, attrs["allocation_pools"], gateway)
        else:
            pools = addresses.default_pools(cidr, gateway)
        enable_dhcp = validation.boolean("enable_dhcp", attrs.get("enable_dhcp", True))
        return {
            "network_id": network_id, "cidr": cidr, "ip_version": cidr.version,
            "gateway": gateway, "pools": pools,
            "dns": _dns(attrs.get("dns_nameservers"), cidr.version),
            "routes": _routes(attrs.get("host_routes"), cidr.version),
            "name": validation.string("name", attrs.get("name", "")),
            "description": validation.string("description", attrs.get("description", "")),
            "enable_dhcp": enable_dhcp,
            "ipv6_modes": dhcp.check_ipv6_modes(cidr.version, str(cidr), enable_dhcp,
                                                attrs.get("ipv6_ra_mode"),
                                                attrs.get("ipv6_address_mode")),
            "owner": {k: attrs[k] for k in ("project_id", "tenant_id") if k in attrs},
        }

    def create_subnet(self, context: RequestContext, **attrs: Any) -> objects.Subnet:
        """Create an IPv4 or IPv6 subnet; pools default to the host range around the gateway."""
        v = self._create_request(context, attrs)
        network_id, cidr, gateway = v["network_id"], v["cidr"], v["gateway"]
        with self.core.db.reader() as session:
            target = policy_target(self.networks.visible_row(session, context, network_id))
        project_id = self.core.owner_project(context, v["owner"]) if v["owner"] \
            else target["project_id"]  # the network's: its owner must see its subnets
        self.core.enforce(context, "create_subnet", {**target, "project_id": project_id})
        v["project_id"] = project_id
        request = {"network_id": network_id, "cidr": str(cidr), "ip_version": v["ip_version"],
                   "gateway_ip": str(gateway) if gateway else None, "project_id": project_id}
        out = Outcome(str(uuid.uuid4()), request=request)

        def write(session: orm.Session) -> list[Outcome]:
            out.after = self._insert(session, context, out.resource_id, v)
            return [out]

        self.lifecycle.run(_CREATE, context, write, announced=[out],
                           after_postcommit=self._refresh)
        return out.after

    def _insert(self, session: orm.Session, context: RequestContext, subnet_id: str,
                v: dict[str, Any]) -> objects.Subnet:
        network_id, cidr, version = v["network_id"], v["cidr"], v["ip_version"]
        net = self.networks.visible_row(session, context, network_id)
        if version == 6 and net.mtu < constants.MIN_MTU_IPV6:
            raise exc.InvalidMtu(mtu=net.mtu, minimum=constants.MIN_MTU_IPV6, maximum=net.mtu)
        for other_id, other_cidr in session.execute(
                sa.select(models.Subnet.id, models.Subnet.cidr)
                .where(models.Subnet.network_id == network_id)):
            other = netaddr.IPNetwork(other_cidr)
            if other.version == version and (cidr in other or other in cidr):
                raise exc.OverlappingSubnet(cidr=str(cidr), subnet_id=other_id,
                                            other_cidr=other_cidr)
        now = models.utcnow()
        row = models.Subnet(
            id=subnet_id, project_id=v["project_id"], network_id=network_id, name=v["name"],
            description=v["description"], ip_version=version, cidr=str(cidr),
            gateway_ip=str(v["gateway"]) if v["gateway"] else None,
            enable_dhcp=v["enable_dhcp"], ipv6_ra_mode=v["ipv6_modes"][0],
            ipv6_address_mode=v["ipv6_modes"][1], revision_number=1, created_at=now,
            updated_at=now)
        session.add(row)
        session.flush()
        for first, last in v["pools"]:
            session.add(models.AllocationPool(
                subnet_id=subnet_id, first_ip=str(netaddr.IPAddress(first, version)),
                last_ip=str(netaddr.IPAddress(last, version)),
                first_key=addresses.to_key(first), last_key=addresses.to_key(last),
                next_key=addresses.to_key(first)))
        self._write_options(session, subnet_id, v["dns"], v["routes"])
        session.flush()
        allocator.make_lanes(session, subnet_id)
        if v["enable_dhcp"]:
            dhcp.reconcile(session, network_id, self.core.generate_mac())
        return common.load_subnets(session, [row])[0]

    @staticmethod
    def _write_options(session: orm.Session, subnet_id: str, dns: list[str] | None,
                       routes: list[tuple[str, str]] | None) -> None:
        """Replace a subnet's DNS servers and host routes (None leaves one as it is)."""
        if dns is not None:
            session.execute(sa.delete(models.DnsNameserver)
                            .where(models.DnsNameserver.subnet_id == subnet_id))
            for i, server in enumerate(dns):
                session.add(models.DnsNameserver(subnet_id=subnet_id, address=server,
                                                 position=i))
        if routes is not None:
            session.execute(sa.delete(models.HostRoute)
                            .where(models.HostRoute.subnet_id == subnet_id))
            for dest, hop in routes:
                session.add(models.HostRoute(subnet_id=subnet_id, destination=dest,
                                             nexthop=hop))

    def _update_request(self, old: objects.Subnet, attrs: dict[str, Any]) -> dict[str, Any]:
        cidr = netaddr.IPNetwork(old.cidr)
        values: dict[str, Any] = {}
        for name in ("name", "description"):
            if name in attrs:
                values[name] = validation.string(name, attrs[name])
        if "enable_dhcp" in attrs:
            values["enable_dhcp"] = validation.boolean("enable_dhcp", attrs["enable_dhcp"])
        if {"enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode"} & set(attrs):
            ra, addr = dhcp.check_ipv6_modes(
                old.ip_version, old.cidr, values.get("enable_dhcp", old.enable_dhcp),
                attrs.get("ipv6_ra_mode", old.ipv6_ra_mode),
                attrs.get("ipv6_address_mode", old.ipv6_address_mode))
            values.update({k: v for k, v in (("ipv6_ra_mode", ra), ("ipv6_address_mode", addr))
                           if k in attrs})
        if "gateway_ip" in attrs:
            gw = addresses.parse_gateway(cidr, attrs["gateway_ip"], True)
            for pool in old.allocation_pools:
                if gw is not None and netaddr.IPAddress(pool.start) <= gw <= netaddr.IPAddress(
                        pool.end):
                    raise exc.GatewayConflictWithAllocationPools(gateway_ip=str(gw),
                                                                 pool=f"{pool.start}-{pool.end}")
            values["gateway_ip"] = str(gw) if gw else None
        request = dict(values)
        if "dns_nameservers" in attrs:
            request["dns_nameservers"] = _dns(attrs["dns_nameservers"], cidr.version)
        if "host_routes" in attrs:
            request["host_routes"] = _routes(attrs["host_routes"], cidr.version)
        return request

    def update_subnet(self, context: RequestContext, subnet_id: str,
                      expected_revision: int | None = None, **attrs: Any) -> objects.Subnet:
        if "allocation_pools" in attrs or "cidr" in attrs or "ip_version" in attrs:
            bad = next(k for k in ("allocation_pools", "cidr", "ip_version") if k in attrs)
            raise exc.InvalidInput(field=bad, reason="cannot be changed after creation")
        check_writable("subnet", attrs, UPDATE_FIELDS)
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_subnet(context, subnet_id)
        request = self._update_request(old, attrs)
        values = {k: v for k, v in request.items() if k not in ("dns_nameservers",
                                                                 "host_routes")}
        self._enforce_on_network(context, "update_subnet", subnet_id, old)
        out = Outcome(subnet_id, before=old, request=request)

        def write(session: orm.Session) -> list[Outcome]:
            row, _ = self._subnet_row(session, context, subnet_id)
            out.before = common.load_subnets(session, [row])[0]
            if values.get("gateway_ip") is not None and session.get(
                    models.IpAllocation, (subnet_id, values["gateway_ip"])) is not None:
                raise exc.IpAddressInUse(ip_address=values["gateway_ip"], subnet_id=subnet_id)
            common.bump_revision(session, models.Subnet, "Subnet", subnet_id,
                                 row.revision_number, expected_revision, values)
            self._write_options(session, subnet_id, request.get("dns_nameservers"),
                                request.get("host_routes"))
            session.flush()
            if "enable_dhcp" in values and values["enable_dhcp"] != out.before.enable_dhcp:
                dhcp.reconcile(session, row.network_id, self.core.generate_mac())
            session.expire_all()
            out.after = common.load_subnets(session, [session.get(models.Subnet,
                                                                  subnet_id)])[0]
            return [out]

        self.lifecycle.run(_UPDATE, context, write, announced=[out],
                           after_postcommit=self._refresh)
        return out.after

    def _enforce_on_network(self, context: RequestContext, rule: str, subnet_id: str,
                            old: objects.Subnet) -> None:
        with self.core.db.reader() as session:
            _, net = self._subnet_row(session, context, subnet_id)
            target = policy_target(net)
        self.core.enforce(context, rule, {**target, "project_id": old.project_id})

    def delete_subnet(self, context: RequestContext, subnet_id: str,
                      expected_revision: int | None = None) -> None:
        """Delete a subnet; refused with SubnetInUse while any address is allocated."""
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_subnet(context, subnet_id)
        self._enforce_on_network(context, "delete_subnet", subnet_id, old)

        def write(session: orm.Session) -> list[Outcome]:
            row, _ = self._subnet_row(session, context, subnet_id)
            if expected_revision is not None and expected_revision != row.revision_number:
                raise exc.RevisionConflict(resource="Subnet", resource_id=subnet_id,
                                           current=row.revision_number,
                                           expected=expected_revision)
            reserved = dhcp.dhcp_port_ids(session, row.network_id)
            count = session.execute(
                sa.select(sa.func.count()).select_from(models.IpAllocation)
                .where(models.IpAllocation.subnet_id == subnet_id,
                       models.IpAllocation.port_id.not_in(reserved))).scalar_one()
            if count:
                raise exc.SubnetInUse(subnet_id=subnet_id, count=count)
            return [Outcome(subnet_id, before=common.load_subnets(session, [row])[0])]

        def finish(session: orm.Session, outcomes: list[Outcome]) -> None:
            network_id = outcomes[0].before.network_id
            session.execute(sa.delete(models.IpAllocation).where(
                models.IpAllocation.subnet_id == subnet_id,
                models.IpAllocation.port_id.in_(dhcp.dhcp_port_ids(session, network_id))))
            session.execute(sa.delete(models.Subnet).where(models.Subnet.id == subnet_id))
            dhcp.reconcile(session, network_id, self.core.generate_mac())

        self.lifecycle.run(_DELETE, context, write, announced=[Outcome(subnet_id, before=old)],
                           finish=finish, after_postcommit=self._refresh)
