"""Shared pieces of the resource operations: row-to-object conversion and listing."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib import objects, validation
from naas_lib.db import batch, models

NETWORK_FIELDS = tuple(f for f in objects.Network.__dataclass_fields__)
SUBNET_FIELDS = tuple(f for f in objects.Subnet.__dataclass_fields__)
PORT_FIELDS = tuple(f for f in objects.Port.__dataclass_fields__)


def network_obj(row: models.Network, subnet_ids: Sequence[str]) -> objects.Network:
    return objects.Network(
        id=row.id, project_id=row.project_id, name=row.name, description=row.description,
        admin_state_up=row.admin_state_up, status=row.status, shared=row.shared, mtu=row.mtu,
        network_type=row.network_type, segmentation_id=row.segmentation_id,
        physical_network=row.physical_network, subnets=tuple(subnet_ids),
        revision_number=row.revision_number, created_at=row.created_at,
        updated_at=row.updated_at, port_security_enabled=bool(row.port_security_enabled),
    )


def subnet_obj(row: models.Subnet, pools: Iterable[tuple[str, str]], dns: Iterable[str],
               routes: Iterable[tuple[str, str]]) -> objects.Subnet:
    """A subnet object: ``pools`` are (first, last), ``routes`` (destination, next hop)."""
    return objects.Subnet(
        id=row.id, project_id=row.project_id, network_id=row.network_id, name=row.name,
        description=row.description, ip_version=row.ip_version, cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        allocation_pools=tuple(objects.AllocationPool(start=first, end=last)
                               for first, last in pools),
        dns_nameservers=tuple(dns),
        host_routes=tuple(objects.HostRoute(destination=d, nexthop=n) for d, n in routes),
        enable_dhcp=row.enable_dhcp, revision_number=row.revision_number,
        created_at=row.created_at, updated_at=row.updated_at,
        ipv6_ra_mode=row.ipv6_ra_mode, ipv6_address_mode=row.ipv6_address_mode,
    )


def port_obj(row: models.Port, fixed_ips: Iterable[tuple[str, str]],
             security_groups: Iterable[str] = (),
             pairs: Iterable[tuple[str, str]] = ()) -> objects.Port:
    """A port object; ``pairs`` are (ip_address, mac_address) of its allowed address pairs."""
    return objects.Port(
        id=row.id, project_id=row.project_id, network_id=row.network_id, name=row.name,
        description=row.description, mac_address=row.mac_address,
        fixed_ips=tuple(objects.FixedIp(subnet_id=s, ip_address=ip) for s, ip in fixed_ips),
        admin_state_up=row.admin_state_up, status=row.status, status_reason=row.status_reason,
        device_id=row.device_id, device_owner=row.device_owner,
        binding_host_id=row.binding_host_id, binding_profile=json.loads(row.binding_profile),
        binding_vif_type=row.binding_vif_type,
        binding_vif_details=json.loads(row.binding_vif_details),
        revision_number=row.revision_number, created_at=row.created_at,
        updated_at=row.updated_at, port_security_enabled=bool(row.port_security_enabled),
        security_groups=tuple(sorted(security_groups)),
        allowed_address_pairs=tuple(objects.AddressPair(ip_address=ip, mac_address=mac)
                                    for ip, mac in sorted(pairs)),
    )


def attachment_obj(row: models.Attachment) -> objects.Attachment:
    return objects.Attachment(
        port_id=row.port_id, interface_id=row.interface_id, instance_id=row.instance_id,
        host=row.host, owns_port=row.owns_port, created_at=row.created_at,
    )


def load_networks(session: orm.Session, rows: Sequence[models.Network]) -> list[objects.Network]:
    ids = [r.id for r in rows]
    subnets: dict[str, list[str]] = defaultdict(list)
    if ids:
        for net_id, sub_id in session.execute(
            sa.select(models.Subnet.network_id, models.Subnet.id)
            .where(models.Subnet.network_id.in_(ids))
            .order_by(models.Subnet.created_at, models.Subnet.id)
        ):
            subnets[net_id].append(sub_id)
    return [network_obj(r, subnets[r.id]) for r in rows]


_pools_t, _dns_t = models.AllocationPool.__table__, models.DnsNameserver.__table__
_routes_t = models.HostRoute.__table__
_SUBNET_IDS = sa.bindparam("ids", expanding=True)
_STR, _INT = sa.String(255), sa.Integer()
#: Everything a subnet object holds besides its row, for several subnets in one
#: statement: (kind, subnet_id, a, b, key, position) with kind "pool" (first
#: and last address, first key), "dns" (address, position) or "route"
#: (destination, nexthop).
_SUBNET_CHILDREN = sa.union_all(
    sa.select(sa.literal_column("'pool'", _STR).label("kind"), _pools_t.c.subnet_id,
              sa.cast(_pools_t.c.first_ip, _STR).label("a"),
              sa.cast(_pools_t.c.last_ip, _STR).label("b"),
              sa.cast(_pools_t.c.first_key, _STR).label("key"),
              sa.cast(sa.null(), _INT).label("position"))
    .where(_pools_t.c.subnet_id.in_(_SUBNET_IDS)),
    sa.select(sa.literal_column("'dns'", _STR), _dns_t.c.subnet_id,
              sa.cast(_dns_t.c.address, _STR), sa.cast(sa.null(), _STR),
              sa.cast(sa.null(), _STR), _dns_t.c.position)
    .where(_dns_t.c.subnet_id.in_(_SUBNET_IDS)),
    sa.select(sa.literal_column("'route'", _STR), _routes_t.c.subnet_id,
              sa.cast(_routes_t.c.destination, _STR), sa.cast(_routes_t.c.nexthop, _STR),
              sa.cast(sa.null(), _STR), sa.cast(sa.null(), _INT))
    .where(_routes_t.c.subnet_id.in_(_SUBNET_IDS)))


def load_subnets(session: orm.Session, rows: Sequence[models.Subnet]) -> list[objects.Subnet]:
    """Subnet objects of subnet rows: their pools, DNS servers and routes in one statement."""
    ids = [r.id for r in rows]
    pools, dns, routes = defaultdict(list), defaultdict(list), defaultdict(list)
    if ids:
        for row in session.connection().execute(_SUBNET_CHILDREN, {"ids": ids}):
            if row.kind == "pool":
                pools[row.subnet_id].append((row.key, row.a, row.b))
            elif row.kind == "dns":
                dns[row.subnet_id].append((row.position, row.a))
            else:
                routes[row.subnet_id].append((row.a, row.b))
    return [subnet_obj(r, [(first, last) for _k, first, last in sorted(pools[r.id])],
                       [address for _p, address in sorted(dns[r.id])],
                       sorted(routes[r.id])) for r in rows]


_ports_t, _bindings_t = models.Port.__table__, models.PortBinding.__table__
_ips_t, _psg_t = models.IpAllocation.__table__, models.PortSecurityGroup.__table__
_aap_t, _atts_t = models.AllowedAddressPair.__table__, models.Attachment.__table__
_IDS = sa.bindparam("ids", expanding=True)
_TEXT = sa.String(255)
#: Everything a port object holds besides its row, for several ports in one
#: statement: (kind, port_id, a, b) with kind "ip" (subnet_id, ip_address),
#: "sg" (security_group_id, NULL) or "pair" (ip_address, mac_address).
_PORT_CHILDREN = sa.union_all(
    sa.select(sa.literal_column("'ip'", _TEXT).label("kind"), _ips_t.c.port_id,
              sa.cast(_ips_t.c.subnet_id, _TEXT).label("a"),
              sa.cast(_ips_t.c.ip_address, _TEXT).label("b"))
    .where(_ips_t.c.port_id.in_(_IDS)),
    sa.select(sa.literal_column("'sg'", _TEXT), _psg_t.c.port_id,
              sa.cast(_psg_t.c.security_group_id, _TEXT), sa.cast(sa.null(), _TEXT))
    .where(_psg_t.c.port_id.in_(_IDS)),
    sa.select(sa.literal_column("'pair'", _TEXT), _aap_t.c.port_id,
              sa.cast(_aap_t.c.ip_address, _TEXT), sa.cast(_aap_t.c.mac_address, _TEXT))
    .where(_aap_t.c.port_id.in_(_IDS)))
#: A port's row with its ACTIVE binding's attributes (the names the model
#: gives them) and the interface id of its attachment (NULL when none), in
#: one statement instead of the model's correlated subquery per attribute.
_PORT_RECORD_OF = (
    sa.select(_ports_t,
              sa.func.nullif(_bindings_t.c.host, "").label("binding_host_id"),
              _bindings_t.c.vif_type.label("binding_vif_type"),
              _bindings_t.c.vif_details.label("binding_vif_details"),
              _bindings_t.c.profile.label("binding_profile"),
              _atts_t.c.interface_id.label("attached_interface"))
    .select_from(_ports_t
                 .outerjoin(_bindings_t, sa.and_(_bindings_t.c.port_id == _ports_t.c.id,
                                                 _bindings_t.c.active.is_(True)))
                 .outerjoin(_atts_t, _atts_t.c.port_id == _ports_t.c.id)))
_PORT_RECORD = _PORT_RECORD_OF.where(_ports_t.c.id == sa.bindparam("id"))
_PORT_RECORDS_BY_IDS = _PORT_RECORD_OF.where(_ports_t.c.id.in_(_IDS))


def load_ports(session: orm.Session, rows: Sequence[Any]) -> list[objects.Port]:
    """Port objects of port rows: their addresses, groups and pairs in one statement."""
    ids = [r.id for r in rows]
    ips: dict[str, list[tuple[str, str]]] = defaultdict(list)
    groups: dict[str, list[str]] = defaultdict(list)
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if ids:
        for kind, port_id, a, b in session.connection().execute(_PORT_CHILDREN, {"ids": ids}):
            if kind == "ip":
                ips[port_id].append((a, b))
            elif kind == "sg":
                groups[port_id].append(a)
            else:
                pairs[port_id].append((a, b))
    return [port_obj(r, ips[r.id], groups[r.id], pairs[r.id]) for r in rows]


def port_records(session: orm.Session, port_ids: Sequence[str]
                 ) -> dict[str, tuple[Any, objects.Port]]:
    """Plain rows (with ``attached_interface``) and objects of the existing ports among
    ``port_ids``, by id, in two statements whatever their number."""
    if not port_ids:
        return {}
    rows = session.connection().execute(_PORT_RECORDS_BY_IDS, {"ids": list(port_ids)}).all()
    return {row.id: (row, port) for row, port in zip(rows, load_ports(session, rows),
                                                     strict=True)}


def port_record(session: orm.Session, port_id: str) -> tuple[Any, objects.Port | None]:
    """A port's plain row (with ``attached_interface``) and its object, in two statements.

    ``(None, None)`` when there is no such port.
    """
    row = session.connection().execute(_PORT_RECORD, {"id": port_id}).first()
    if row is None:
        return None, None
    return row, load_ports(session, [row])[0]


# -- listing ---------------------------------------------------------------


def apply_filters(query: sa.Select, model: type, filters: Mapping[str, Any],
                  allowed: Iterable[str], resource: str) -> sa.Select:
    """Attribute filters: a value or a list of values (any of them matches)."""
    allowed = set(allowed)
    for name, value in filters.items():
        if name not in allowed:
            raise exc.UnknownField(field=name, resource=resource)
        column = getattr(model, name)
        many = isinstance(value, (list, tuple, set, frozenset))
        values = [_filter_value(name, column, v) for v in (value if many else [value])]
        if model is models.Port and name == "binding_host_id":
            query = query.where(_bound_to(values))
            continue
        present = [v for v in values if v is not None]
        matches = [column.in_(present)] if present else []
        if len(present) < len(values):
            matches.append(column.is_(None))
        query = query.where(sa.or_(*matches) if matches else sa.false())
    return query


def _bound_to(hosts: Sequence[str | None]) -> sa.ColumnElement[bool]:
    """Ports whose ACTIVE binding is on one of ``hosts`` (None: unbound).

    Through the bindings' host index: the port's ``binding_host_id`` is a
    correlated subquery, and a filter on it would visit every port.
    """
    # The unbound port's host is stored as "" and read as None; "" matches nothing.
    stored = [h for h in hosts if h] + ([""] if None in hosts else [])
    return models.Port.id.in_(sa.select(models.PortBinding.port_id).where(
        models.PortBinding.host.in_(stored), models.PortBinding.active.is_(True)))


def _filter_value(name: str, column: Any, value: Any) -> Any:
    """A filter value in its column's type ('true' for a boolean, '7' for an integer)."""
    if value is None:
        return None
    if isinstance(column.type, sa.Boolean):
        return validation.boolean(name, value)
    if isinstance(column.type, sa.Integer):
        return validation.integer(name, value, -(2**63), 2**63 - 1)
    return validation.lookup(name, value)


def apply_paging(
    session: orm.Session,
    query: sa.Select,
    model: type,
    sortable: Iterable[str],
    resource: str,
    sorts: Sequence[tuple[str, bool]] | None,
    limit: int | None,
    marker: str | None,
    page_reverse: bool,
    not_found: type[exc.NotFound],
    marker_kw: str,
) -> sa.Select:
    """Sort by ``sorts`` ([(key, ascending)]) then id, and seek past ``marker``."""
    keys = _sort_keys(sorts, set(sortable), resource)
    if not any(k == "id" for k, _ in keys):
        keys.append(("id", True))
    if page_reverse:
        keys = [(k, not asc) for k, asc in keys]
    if marker is not None:
        # Looked up through the caller's query, so a marker naming a resource
        # the caller may not see is "not found", as on a get.
        marker_row = session.scalars(query.where(
            model.id == validation.lookup("marker", marker)).limit(1)).first() \
            if isinstance(marker, str) else None
        if marker_row is None:
            raise not_found(**{marker_kw: marker})
        # Keyset seek: rows strictly after the marker in the sort order.
        clauses = []
        for i, (key, asc) in enumerate(keys):
            eqs = [_same(getattr(model, k), getattr(marker_row, k)) for k, _ in keys[:i]]
            clauses.append(sa.and_(*eqs, _after(getattr(model, key),
                                                getattr(marker_row, key), asc)))
        query = query.where(sa.or_(*clauses))
    order = []
    for k, asc in keys:
        col = getattr(model, k)
        # NULL sorts as the smallest value on every backend (PostgreSQL would
        # put it last), so pages seek the same way everywhere.
        nulls = sa.case((col.is_(None), 0), else_=1)
        order += [nulls.asc(), col.asc()] if asc else [nulls.desc(), col.desc()]
    query = query.order_by(*order)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise exc.InvalidInput(field="limit", reason=f"{limit!r} is not a count")
        if limit < 2**31:  # anything larger cannot be reached: no limit
            query = query.limit(limit)
    return query


def _sort_keys(sorts: Any, sortable: set[str], resource: str) -> list[tuple[str, bool]]:
    """A caller's ``sorts`` as [(column, ascending)], checked against what may be sorted."""
    keys: list[tuple[str, bool]] = []
    if sorts is not None and not (isinstance(sorts, (list, tuple)) and all(
            isinstance(s, (list, tuple)) and len(s) == 2 for s in sorts)):
        raise exc.InvalidInput(field="sorts", reason="expected [(key, ascending), ...]")
    for key, ascending in sorts or []:
        if not isinstance(key, str) or key not in sortable:
            raise exc.InvalidInput(field="sort_key", reason=f"cannot sort {resource}s by {key}")
        # bool('desc') is True: take Neutron's words, refuse anything else.
        direction = {"asc": True, "desc": False}.get(ascending, ascending) \
            if isinstance(ascending, str) else ascending
        if not isinstance(direction, bool):
            raise exc.InvalidInput(field="sort_dir",
                                   reason=f"{ascending!r} is not True/False or 'asc'/'desc'")
        keys.append((key, direction))
    return keys


def _same(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value


def _after(col: Any, value: Any, ascending: bool) -> Any:
    """``col`` strictly after ``value`` in the order, NULL being the smallest value."""
    if ascending:
        return col.is_not(None) if value is None else col > value
    if value is None:
        return sa.false()
    return sa.or_(col < value, col.is_(None))


@dataclasses.dataclass(frozen=True)
class Listing:
    """How one resource is listed: its table, filters, not-found error and loader."""

    model: type
    resource: str
    filters: tuple[str, ...]
    not_found: type[exc.NotFound]
    marker_kw: str
    load: Callable[[orm.Session, Sequence[Any]], list]


def list_page(session: orm.Session, query: sa.Select, listing: Listing,
              filters: dict[str, Any], fields: Sequence[str] | None, limit: int | None,
              marker: str | None, sorts: Sequence[tuple[str, bool]] | None,
              page_reverse: bool) -> list:
    """One page of ``query`` (already limited to what the caller may see), filtered."""
    if "tenant_id" in filters:
        filters["project_id"] = filters.pop("tenant_id")
    model = listing.model
    query = apply_filters(query, model, filters, listing.filters, listing.resource)
    query = apply_paging(session, query, model, listing.filters + ("created_at",),
                         listing.resource, sorts, limit, marker, page_reverse,
                         listing.not_found, listing.marker_kw)
    items = listing.load(session, list(session.scalars(query)))
    if page_reverse:
        items.reverse()
    return [i.to_dict(fields) for i in items] if fields else items


def expected_revision(value: Any) -> int | None:
    """A caller's ``expected_revision``: None or a revision number (else InvalidInput)."""
    if value is None:
        return None
    return validation.integer("expected_revision", value, 0)


_BUMPS: dict[tuple[str, tuple[str, ...]], sa.Update] = {}


def _bump_statement(table: sa.Table, keys: tuple[str, ...]) -> sa.Update:
    """The compare-and-swap UPDATE of ``keys`` on ``table``, built once per column set
    (building and hashing a new statement per call cost about a tenth of an update)."""
    stmt = _BUMPS.get((table.name, keys))
    if stmt is None:
        stmt = (sa.update(table)
                .where(table.c.id == sa.bindparam("_id"),
                       table.c.revision_number == sa.bindparam("_current"))
                .values({k: sa.bindparam("v_" + k) for k in keys}))
        if len(_BUMPS) < 256:
            _BUMPS[(table.name, keys)] = stmt
    return stmt


def bump_revision(session: orm.Session, model: type, resource: str, resource_id: str,
                  current: int, expected: int | None, values: dict[str, Any]) -> int:
    """Compare-and-swap update of one row; a stale revision changes nothing."""
    if expected is not None and expected != current:
        raise exc.RevisionConflict(resource=resource, resource_id=resource_id,
                                   current=current, expected=expected)
    # A caller that builds the updated object from the values passes its own updated_at.
    values = {"updated_at": models.utcnow(), **values, "revision_number": current + 1}
    table = model.__table__
    # A Core UPDATE on the table (the ORM's bulk-update machinery cost more than
    # the statement); pending ORM changes are flushed first, as the ORM would.
    session.flush()
    if any(isinstance(v, sa.ClauseElement) for v in values.values()):
        stmt, params = (sa.update(table).where(table.c.id == resource_id,
                                               table.c.revision_number == current)
                        .values(**values)), {}
    else:
        stmt = _bump_statement(table, tuple(sorted(values)))
        params = {"_id": resource_id, "_current": current,
                  **{"v_" + k: v for k, v in values.items()}}
    count = session.connection().execute(stmt, params).rowcount
    if count != 1:
        if expected is not None:
            raise exc.RevisionConflict(resource=resource, resource_id=resource_id,
                                       current="newer", expected=expected)
        raise exc.ConcurrentModification(resource=resource, resource_id=resource_id)
    return current + 1


def bump_revisions(session: orm.Session, model: type, resource: str,
                   items: Sequence[tuple[str, int, dict[str, Any]]]) -> None:
    """:func:`bump_revision` of several rows (id, current revision, values), values
    with the same keys for all; ConcurrentModification when one of them moved."""
    if not items:
        return
    table = model.__table__
    now = models.utcnow()
    keys = sorted(items[0][2])
    stmt = sa.update(table).where(
        table.c.id == sa.bindparam("_id"), table.c.revision_number == sa.bindparam("_rev")
    ).values(revision_number=sa.bindparam("_new"), updated_at=sa.bindparam("_at"),
             **{k: sa.bindparam(k) for k in keys})
    rows = [{"_id": i, "_rev": rev, "_new": rev + 1, "_at": now, **values}
            for i, rev, values in items]
    session.flush()
    if not batch.update_each(session.connection(), stmt, rows):
        raise exc.ConcurrentModification(resource=resource,
                                         resource_id=",".join(i for i, _r, _v in items))


_networks, _subnets = models.Network.__table__, models.Subnet.__table__
#: A network's row with its subnet ids (one row per subnet; one with a NULL id when none).
_NETWORK_WITH_SUBNETS = (
    sa.select(_networks, _subnets.c.id.label("subnet_id"))
    .select_from(_networks.outerjoin(_subnets, _subnets.c.network_id == _networks.c.id))
    .where(_networks.c.id == sa.bindparam("id"))
    .order_by(_subnets.c.created_at, _subnets.c.id))


_NETWORKS_WITH_SUBNETS = (
    sa.select(_networks, _subnets.c.id.label("subnet_id"))
    .select_from(_networks.outerjoin(_subnets, _subnets.c.network_id == _networks.c.id))
    .where(_networks.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_networks.c.id, _subnets.c.created_at, _subnets.c.id))


def network_records(session: orm.Session, network_ids: Sequence[str]
                    ) -> list[tuple[Any, objects.Network]]:
    """Plain rows and complete objects of the existing networks among ``network_ids``.

    One statement, ordered by network id.
    """
    if not network_ids:
        return []
    grouped: dict[str, list[Any]] = {}
    for row in session.connection().execute(_NETWORKS_WITH_SUBNETS,
                                            {"ids": list(network_ids)}):
        grouped.setdefault(row.id, []).append(row)
    return [(rows[0], network_obj(rows[0], [r.subnet_id for r in rows if r.subnet_id]))
            for rows in grouped.values()]


def network_record(session: orm.Session, network_id: Any) -> tuple[Any, objects.Network | None]:
    """A network's plain row and complete object (with its subnet ids) in one statement.

    ``(None, None)`` when there is no such network.
    """
    if not isinstance(network_id, str):
        return None, None
    rows = session.connection().execute(_NETWORK_WITH_SUBNETS, {"id": network_id}).all()
    if not rows:
        return None, None
    return rows[0], network_obj(rows[0], [r.subnet_id for r in rows if r.subnet_id])


def network_by_id(session: orm.Session, network_id: str) -> objects.Network:
    """The complete network object of an existing network (the caller holds a port of it)."""
    net = network_record(session, network_id)[1]
    if net is None:
        raise exc.NetworkNotFound(net_id=network_id)
    return net
