"""A port's security fields and how their changes reach this host's driver.

:class:`PortSecurityFields` validates and writes ``port_security_enabled``,
``security_groups`` and ``allowed_address_pairs`` of a port (inside the
port's own transaction), following Neutron: a new port inherits its
network's ``port_security_enabled``; with port security on and no
``security_groups`` asked for it joins its project's ``default`` group;
port security cannot be off while the port keeps groups or pairs.

:class:`SecurityHostSide` tells this host's driver what changed: a group's
rules (``update_security_group``), a group's members
(``update_security_group_members``) and, before a port is plugged, the
groups it uses. Other hosts learn it at their next sync
(:func:`group_states` feeds the desired state).
"""

from __future__ import annotations

import ipaddress
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib import objects, validation
from naas_lib.context import RequestContext
from naas_lib.db import batch, models
from naas_lib.drivers import base as driver_base
from naas_lib.resources.core import Core
from naas_lib.resources.security_groups import SecurityGroups, rule_obj

LOG = logging.getLogger(__name__)

FIELDS = ("port_security_enabled", "security_groups", "allowed_address_pairs")
_PSG = models.PortSecurityGroup
_AAP = models.AllowedAddressPair


def _pairs(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, Mapping) for p in value):
        raise exc.InvalidAllowedAddressPair(pair=repr(value),
                                            reason="expected a list of {ip_address, "
                                                   "mac_address?}")
    out = []
    for p in value:
        extra = set(p) - {"ip_address", "mac_address"}
        if extra:
            raise exc.InvalidAllowedAddressPair(pair=repr(dict(p)),
                                                reason=f"unknown keys {sorted(extra)}")
        if not isinstance(p.get("ip_address"), str) or not p["ip_address"]:
            raise exc.InvalidAllowedAddressPair(pair=repr(dict(p)), reason="ip_address is "
                                                                           "required")
        mac = p.get("mac_address")
        if mac is not None:
            mac = validation.mac_address("allowed_address_pairs", mac)
        out.append({"ip_address": p["ip_address"], "mac_address": mac})
    return out


def validated(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Type-check the security fields present in a port request."""
    v: dict[str, Any] = {}
    if attrs.get("port_security_enabled") is not None:
        v["port_security_enabled"] = validation.boolean("port_security_enabled",
                                                        attrs["port_security_enabled"])
    if "security_groups" in attrs:
        groups = attrs["security_groups"] or []
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups):
            raise exc.InvalidInput(field="security_groups", reason="a list of group ids")
        v["security_groups"] = sorted(set(groups))
    if "allowed_address_pairs" in attrs:
        v["allowed_address_pairs"] = _pairs(attrs["allowed_address_pairs"])
    return v


def check_pairs(mac: str, pairs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(ip, mac) of each pair, the MAC defaulting to the port's; typed errors for bad ones."""
    if not pairs:
        return []
    from naas_lib.drivers.linuxbridge import portsec_rules as rules_check  # see security_groups
    spec = rules_check.PortSpec(
        device="check", mac=mac.lower(), allowed_address_pairs=tuple(
            rules_check.AddressPair(p["ip_address"], p.get("mac_address")) for p in pairs))
    rules_check.check_port(spec)
    out = []
    for p in pairs:
        net = ipaddress.ip_network(p["ip_address"])
        ip = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        out.append((ip, (p.get("mac_address") or mac).lower()))
    return out


def enabled_for(v: Mapping[str, Any], net_row: Any) -> bool:
    """A new port's ``port_security_enabled``: as asked, else its network's."""
    enabled = v.get("port_security_enabled")
    if enabled is None:
        enabled = bool(getattr(net_row, "port_security_enabled", True))
    return enabled


#: Make port ``port_id`` a member of group ``group_id`` if that group exists (one statement).
_JOIN_GROUP = sa.insert(_PSG.__table__).from_select(
    ["port_id", "security_group_id"],
    sa.select(sa.bindparam("port_id", type_=sa.String), models.SecurityGroup.__table__.c.id)
    .where(models.SecurityGroup.__table__.c.id == sa.bindparam("group_id")))


class PortSecurityFields:
    """Writes a port's security fields in the port's transaction."""

    def __init__(self, core: Core, groups: SecurityGroups) -> None:
        self.core = core
        self.groups = groups
        #: project -> its default group's id, as last seen (checked by the insert that uses it).
        self._defaults: dict[str, str] = {}

    def _join_default(self, session: orm.Session, v: dict[str, Any]) -> str:
        """Make the new port a member of its project's default group; the group's id.

        The usual case is one statement: an INSERT ... SELECT that succeeds only if
        the remembered group still exists. Otherwise the group is looked up (and
        made, inside this transaction, when the project has none).
        """
        project = v["project_id"]
        known = self._defaults.get(project)
        if known is not None:
            joined = session.connection().execute(_JOIN_GROUP, {"port_id": v["id"],
                                                                "group_id": known}).rowcount
            if joined == 1:
                return known
        default, v["_default_made"] = self.groups.default_in(session, project)
        session.execute(sa.insert(_PSG), [{"port_id": v["id"], "security_group_id": default}])
        self._defaults[project] = default
        return default

    def on_create_many(self, session: orm.Session, context: RequestContext,
                       vs: Sequence[dict[str, Any]], enabled: Sequence[bool],
                       macs: Sequence[str]) -> list[tuple[list[str], list[tuple[str, str]]]]:
        """:meth:`on_create` for a batch of new ports (issue 13's bulk create).

        Ports that only join their project's default group do so in one
        multi-row insert per project; any other port goes through
        :meth:`on_create`.
        """
        out: list[tuple[list[str], list[tuple[str, str]]] | None] = []
        joining: dict[str, list[int]] = {}  # project -> indexes of its joining ports
        for i, (v, on, mac) in enumerate(zip(vs, enabled, macs, strict=True)):
            if on and v.get("security_groups") is None and not v.get("allowed_address_pairs"):
                v["_default_made"] = None
                joining.setdefault(v["project_id"], []).append(i)
                out.append(None)
            else:
                out.append(self.on_create(session, context, v, on, mac))
        for project, indexes in joining.items():
            known = self._defaults.get(project)
            if known is not None and batch.update_each(
                    session.connection(), _JOIN_GROUP,
                    [{"port_id": vs[i]["id"], "group_id": known} for i in indexes]):
                default = known  # the remembered group still exists: one statement
            else:
                default, vs[indexes[0]]["_default_made"] = self.groups.default_in(session,
                                                                                  project)
                session.execute(sa.insert(_PSG), [{"port_id": vs[i]["id"],
                                                   "security_group_id": default}
                                                  for i in indexes])
                self._defaults[project] = default
            for i in indexes:
                out[i] = ([default], [])
        return [o for o in out if o is not None]

    def announce(self, context: RequestContext, requests: Sequence[dict[str, Any]]) -> None:
        """After commit: AFTER events of default groups the ports' transaction made."""
        for v in requests:
            made = v.pop("_default_made", None)
            if made is not None:
                self.groups.announce_default(context, made)

    def _check_groups(self, session: orm.Session, context: RequestContext, project_id: str,
                      group_ids: Sequence[str]) -> None:
        for gid in group_ids:
            row = self.groups.visible_group(session, context, gid)
            if row.project_id != project_id and not context.is_admin:
                raise exc.SecurityGroupNotFound(id=gid)

    def on_create(self, session: orm.Session, context: RequestContext, v: dict[str, Any],
                  enabled: bool, mac: str) -> tuple[list[str], list[tuple[str, str]]]:
        """Validate and write a new port's groups and pairs (after its row)."""
        groups = v.get("security_groups")
        v["_default_made"] = None
        pairs = check_pairs(mac, v.get("allowed_address_pairs", []))
        if not enabled and (groups or pairs):
            raise exc.InvalidInput(field="port_security_enabled",
                                   reason="a port without port security can have neither "
                                          "security groups nor allowed address pairs")
        if groups is None:
            groups = [self._join_default(session, v)] if enabled else []
            self._write(session, v["id"], None, pairs, new=True)
            return groups, pairs
        self._check_groups(session, context, v["project_id"], groups)
        self._write(session, v["id"], groups, pairs, new=True)
        return groups, pairs

    def on_update(self, session: orm.Session, context: RequestContext, row: models.Port,
                  before: objects.Port, v: dict[str, Any]) -> dict[str, Any]:
        """Validate and write changed fields; the port column values to update."""
        if not any(k in v for k in FIELDS):
            return {}
        enabled = v.get("port_security_enabled", before.port_security_enabled)
        groups = v.get("security_groups", list(before.security_groups))
        mac = v.get("mac_address") or before.mac_address
        if "allowed_address_pairs" in v:
            pairs = check_pairs(mac, v["allowed_address_pairs"])
        else:
            pairs = [(p.ip_address, p.mac_address) for p in before.allowed_address_pairs]
        if not enabled and (groups or pairs):
            raise exc.InvalidInput(field="port_security_enabled",
                                   reason="turning port security off needs the port's security "
                                          "groups and allowed address pairs cleared in the "
                                          "same update")
        if "security_groups" in v:
            self._check_groups(session, context, before.project_id, groups)
        self._write(session, before.id, groups if "security_groups" in v else None,
                    pairs if "allowed_address_pairs" in v else None)
        return {"port_security_enabled": enabled} \
            if enabled != before.port_security_enabled else {}

    @staticmethod
    def _write(session: orm.Session, port_id: str, groups: Sequence[str] | None,
               pairs: Sequence[tuple[str, str]] | None, new: bool = False) -> None:
        if groups is not None:
            if not new:
                session.execute(sa.delete(_PSG).where(_PSG.port_id == port_id))
            if groups:
                session.execute(sa.insert(_PSG), [{"port_id": port_id, "security_group_id": g}
                                                  for g in groups])
        if pairs is not None:
            if not new:
                session.execute(sa.delete(_AAP).where(_AAP.port_id == port_id))
            if pairs:
                session.execute(sa.insert(_AAP), [{"port_id": port_id, "ip_address": ip,
                                                   "mac_address": mac} for ip, mac in pairs])


# -- what the driver is told ---------------------------------------------------------


_IDS = sa.bindparam("ids", expanding=True)
_GT, _RT = models.SecurityGroup.__table__, models.SecurityGroupRule.__table__
_PSGT, _IPAT, _AAPT = _PSG.__table__, models.IpAllocation.__table__, _AAP.__table__
#: Member addresses of the groups ``ids``: fixed IPs and pairs of their ports.
_MEMBERS = sa.union_all(
    sa.select(_PSGT.c.security_group_id, _IPAT.c.ip_address)
    .join(_IPAT, _IPAT.c.port_id == _PSGT.c.port_id)
    .where(_PSGT.c.security_group_id.in_(_IDS)),
    sa.select(_PSGT.c.security_group_id, _AAPT.c.ip_address)
    .join(_AAPT, _AAPT.c.port_id == _PSGT.c.port_id)
    .where(_PSGT.c.security_group_id.in_(_IDS)))
#: The groups ``ids`` name as remote in their rules.
_REMOTES = (sa.select(_RT.c.remote_group_id)
            .where(_RT.c.security_group_id.in_(_IDS), _RT.c.remote_group_id.is_not(None)))
#: Rows of the groups ``ids`` and of the groups their rules name, and their rules.
_STATE_GROUPS = sa.select(_GT).where(sa.or_(_GT.c.id.in_(_IDS), _GT.c.id.in_(_REMOTES)))
_STATE_RULES = (sa.select(_RT)
                .where(sa.or_(_RT.c.security_group_id.in_(_IDS),
                              _RT.c.security_group_id.in_(_REMOTES)))
                .order_by(_RT.c.created_at, _RT.c.id))
#: The same for exactly the groups ``ids`` (their remote groups already among them).
_EXACT_GROUPS = sa.select(_GT).where(_GT.c.id.in_(_IDS))
_EXACT_RULES = (sa.select(_RT).where(_RT.c.security_group_id.in_(_IDS))
                .order_by(_RT.c.created_at, _RT.c.id))
#: Id and revision of the groups ``ids`` and of the groups their rules name.
_REVISIONS = sa.select(_GT.c.id, _GT.c.revision_number).where(
    sa.or_(_GT.c.id.in_(_IDS), _GT.c.id.in_(_REMOTES)))


def members(session: orm.Session, group_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each group's member addresses on every host: fixed IPs and pairs of its ports.

    One query (plain rows from a statement built once): it runs before every plug.
    """
    ids = sorted(set(group_ids))
    out: dict[str, set[str]] = defaultdict(set)
    if ids:
        for gid, ip in session.connection().execute(_MEMBERS, {"ids": ids}):
            out[gid].add(ip)
    return {g: tuple(sorted(out[g])) for g in ids}


def group_states(session: orm.Session, group_ids: Iterable[str], remotes: bool = True
                 ) -> dict[str, driver_base.SecurityGroupState]:
    """The groups, plus (``remotes``) the groups their rules name as remote, with members.

    Three plain-row queries from statements built once (groups, rules,
    members): a sync round reads every group its ports use.
    """
    wanted = sorted(set(group_ids))
    if not wanted:
        return {}
    conn = session.connection()
    groups = list(conn.execute(_STATE_GROUPS if remotes else _EXACT_GROUPS, {"ids": wanted}))
    rules: dict[str, list[objects.SecurityGroupRule]] = defaultdict(list)
    for row in conn.execute(_STATE_RULES if remotes else _EXACT_RULES, {"ids": wanted}):
        rules[row.security_group_id].append(rule_obj(row))
    addresses = members(session, [g.id for g in groups])
    return {g.id: driver_base.SecurityGroupState(
        group=objects.SecurityGroup(
            id=g.id, project_id=g.project_id, name=g.name, description=g.description,
            security_group_rules=tuple(rules[g.id]), revision_number=g.revision_number,
            created_at=g.created_at, updated_at=g.updated_at),
        members=addresses.get(g.id, ())) for g in groups}


def groups_of(ports: Iterable[objects.Port]) -> set[str]:
    return {g for p in ports if p.port_security_enabled for g in p.security_groups}


class SecurityHostSide:
    """Rule and membership changes, told to this host's driver right after commit."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def rules_changed(self, group_ids: Sequence[str]) -> None:
        """Reprogram these groups' rules here (hosts without a service host: nothing)."""
        if not self.core.host or not group_ids:
            return
        try:
            with self.core.db.reader() as session:
                states = group_states(session, group_ids)
            # The groups their rules name first: a rule naming a group this host
            # holds no member of yet gets its members with it, not at the next round.
            for gid in sorted(set(states) - set(group_ids)):
                self.core.driver.update_security_group(states[gid])
            for gid in group_ids:
                if gid in states:
                    self.core.driver.update_security_group(states[gid])
        except Exception:
            LOG.exception("Reprogramming security groups %s failed; sync retries", group_ids)

    def ports_changed(self, changes: Sequence[tuple[objects.Port | None, objects.Port | None]]
                      ) -> None:
        """Ports joined, left or changed addresses: their groups' member sets change."""
        if not self.core.host:
            return
        affected: set[str] = set()
        for before, after in changes:
            if before is None and after is not None and after.binding_host_id in (
                    None, self.core.host):
                continue  # sends nothing until plugged; a plug here programs it then
            old = groups_of([before]) if before is not None else set()
            new = groups_of([after]) if after is not None else set()
            if before is not None and after is not None and old == new and (
                    before.fixed_ips == after.fixed_ips
                    and before.allowed_address_pairs == after.allowed_address_pairs):
                continue
            affected |= old | new
        self.members_changed(affected)

    def members_changed(self, group_ids: Iterable[str]) -> None:
        """Tell this host's driver the groups' member addresses as the database has them."""
        affected = set(group_ids)
        if not affected or not self.core.host:
            return
        try:
            with self.core.db.reader() as session:
                addresses = members(session, affected)
            for gid in sorted(affected):
                self.core.driver.update_security_group_members(gid, addresses.get(gid, ()))
        except Exception:
            LOG.exception("Updating members of %s failed; sync retries", sorted(affected))

    def after_port_update(self, before: objects.Port, after: objects.Port,
                          plugging: Any) -> objects.Port:
        """Members of the groups concerned, and the port itself when it is plugged here."""
        self.ports_changed([(before, after)])
        changed = any(getattr(before, f) != getattr(after, f) for f in FIELDS) or (
            before.fixed_ips != after.fixed_ips or before.mac_address != after.mac_address)
        if changed and plugging.is_local(after) and plugging.is_local(before):
            try:
                return plugging.plug_port(after.id)
            except exc.NaasError as e:
                LOG.warning("Re-plugging port %s after its security change failed: %s",
                            after.id, e)
        return after

    def read_ahead(self, session: orm.Session, ports: Sequence[objects.Port]
                   ) -> dict[str, int] | None:
        """The revisions :meth:`before_plug_many` compares, read in the caller's transaction.

        None when the ports use no group or the driver holds none (then it
        reads the groups whole anyway).
        """
        groups = groups_of(ports)
        if not groups or not self.core.driver.security_group_revisions():
            return None
        return dict(session.connection().execute(_REVISIONS, {"ids": sorted(groups)}).all())

    def before_plug_many(self, ports: Sequence[objects.Port],
                         ahead: dict[str, int] | None = None) -> None:
        """Before plugging ports: hand the driver the groups they use that it lacks.

        One read: the revisions of the ports' groups and of the groups their
        rules name; then rules and members of only those the driver does not
        hold at that revision (``Driver.security_group_revisions``). A held
        group's members are as fresh as the driver's last sync round or this
        process's last change (the issue's "within one reconciliation round");
        rules are as fresh as the database, since a rule change moves the
        group's revision. ``ahead``: those revisions, read by the write
        transaction that bound the ports (:meth:`read_ahead`); then only the
        stale groups are read.
        """
        groups = groups_of(ports)
        if not groups:
            return
        held = self.core.driver.security_group_revisions()
        if held and ahead is not None and groups <= ahead.keys():
            stale = [gid for gid, revision in ahead.items() if held.get(gid) != revision]
            if not stale:
                return
            with self.core.db.reader() as session:
                states = group_states(session, stale, remotes=False)
        else:
            with self.core.db.reader() as session:
                if not held:  # a driver that keeps nothing (or has nothing yet): all of them
                    states = group_states(session, groups)
                else:
                    current = session.connection().execute(_REVISIONS, {"ids": sorted(groups)})
                    stale = [gid for gid, revision in current if held.get(gid) != revision]
                    states = group_states(session, stale, remotes=False) if stale else {}
        if states:
            self.core.driver.prepare_security_groups(list(states.values()))


class MembersOfDeletedNetworks:
    """A deleted network takes its ports along: their groups' member sets on this
    host follow at once (a delete hook of :class:`~naas_lib.resources.networks.Networks`)."""

    def __init__(self, core: Core, host_side: SecurityHostSide) -> None:
        self.core = core
        self.host_side = host_side

    def before_network_delete(self, context: RequestContext, network: objects.Network
                              ) -> list[str]:
        """The groups of the network's ports (nothing on a service without a host)."""
        if not self.core.host:
            return []
        with self.core.db.reader() as session:
            return sorted(session.scalars(
                sa.select(_PSG.security_group_id).distinct()
                .join(models.Port, models.Port.id == _PSG.port_id)
                .where(models.Port.network_id == network.id)))

    def after_network_delete(self, context: RequestContext, token: list[str]) -> None:
        self.host_side.members_changed(token)


def forget_ports(session: orm.Session, port_ids: Sequence[str]) -> None:
    """Remove the security rows of ports being deleted (SQLite does not cascade)."""
    if port_ids:
        session.execute(sa.delete(_PSG).where(_PSG.port_id.in_(list(port_ids))))
        session.execute(sa.delete(_AAP).where(_AAP.port_id.in_(list(port_ids))))
