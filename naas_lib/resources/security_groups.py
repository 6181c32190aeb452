"""Security groups and their rules (Neutron's shape), with each project's ``default`` group.

A group is a project's named set of rules; its members are the ports that
name it in ``security_groups``. Each project has one ``default`` group with
Neutron's default rules (egress anything for IPv4 and IPv6, ingress from
members of the same group). As in Neutron it is made with the project's
first network (in that network's transaction, unless the network has port
security off), and otherwise the first time it is needed (a port created
without groups, a group listed or created): the project's first ports,
often created at once by several workers, then find it instead of racing
to insert it. Groups created later
start with the two egress rules only.

A rule that duplicates another of its group is refused
(:class:`SecurityGroupRuleExists`; the database's unique ``rule_key``
settles concurrent requests); a group that a port still uses cannot be
deleted (:class:`SecurityGroupInUse`). Rule changes reach this host's
driver at once (``update_security_group``) and other hosts at their next
sync. Tenancy as everywhere: another project's group is "not found".
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import events, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.resources import common
from naas_lib.resources import lifecycle as lc
from naas_lib.resources.core import Core

DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"
GROUP_FIELDS = ("name", "description", "project_id", "tenant_id", "stateful")
GROUP_UPDATE_FIELDS = ("name", "description")
RULE_FIELDS = ("security_group_id", "direction", "ethertype", "protocol", "port_range_min",
               "port_range_max", "remote_ip_prefix", "remote_group_id", "description",
               "project_id", "tenant_id", "remote_address_group_id", "normalized_cidr")
GROUP_FILTERS = ("id", "project_id", "name", "description", "revision_number")
RULE_FILTERS = ("id", "project_id", "security_group_id", "direction", "ethertype", "protocol",
                "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id",
                "description", "revision_number")

_G_CREATE = lc.Phases(events.SECURITY_GROUP, lc.CREATE)
_G_UPDATE = lc.Phases(events.SECURITY_GROUP, lc.UPDATE)
_G_DELETE = lc.Phases(events.SECURITY_GROUP, lc.DELETE)
_R_CREATE = lc.Phases(events.SECURITY_GROUP_RULE, lc.CREATE)
_R_DELETE = lc.Phases(events.SECURITY_GROUP_RULE, lc.DELETE)


def rule_obj(row: models.SecurityGroupRule) -> objects.SecurityGroupRule:
    return objects.SecurityGroupRule(
        id=row.id, project_id=row.project_id, security_group_id=row.security_group_id,
        direction=row.direction, ethertype=row.ethertype, protocol=row.protocol,
        port_range_min=row.port_range_min, port_range_max=row.port_range_max,
        remote_ip_prefix=row.remote_ip_prefix, remote_group_id=row.remote_group_id,
        description=row.description, revision_number=row.revision_number,
        created_at=row.created_at, updated_at=row.updated_at)


def load_rules(session: orm.Session, rows: Sequence[models.SecurityGroupRule]
               ) -> list[objects.SecurityGroupRule]:
    return [rule_obj(r) for r in rows]


def load_groups(session: orm.Session, rows: Sequence[models.SecurityGroup]
                ) -> list[objects.SecurityGroup]:
    """Group objects with their rules (one query for all of them)."""
    ids = [r.id for r in rows]
    rules: dict[str, list[objects.SecurityGroupRule]] = defaultdict(list)
    if ids:
        R = models.SecurityGroupRule
        for r in session.scalars(sa.select(R).where(R.security_group_id.in_(ids))
                                 .order_by(R.created_at, R.id)):
            rules[r.security_group_id].append(rule_obj(r))
    return [objects.SecurityGroup(
        id=r.id, project_id=r.project_id, name=r.name, description=r.description,
        security_group_rules=tuple(rules[r.id]), revision_number=r.revision_number,
        created_at=r.created_at, updated_at=r.updated_at) for r in rows]


_GROUP_LISTING = common.Listing(models.SecurityGroup, "security_group", GROUP_FILTERS,
                                exc.SecurityGroupNotFound, "id", load_groups)
_RULE_LISTING = common.Listing(models.SecurityGroupRule, "security_group_rule", RULE_FILTERS,
                               exc.SecurityGroupRuleNotFound, "id", load_rules)


@dataclasses.dataclass(frozen=True)
class RuleRequest:
    """A validated rule, in the columns it is stored with."""

    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str = ""

    def spec(self) -> Any:
        rules_check = _rules()
        return rules_check.SecurityGroupRule(
            direction=self.direction, ethertype=self.ethertype, protocol=self.protocol,
            port_range_min=self.port_range_min, port_range_max=self.port_range_max,
            remote_ip_prefix=self.remote_ip_prefix, remote_group_id=self.remote_group_id)

    def key(self) -> str:
        """The normalized content two duplicate rules share (stored, unique per group)."""
        return "|".join("" if v is None else str(v) for v in _rules().rule_key(self.spec()))


def _rules() -> Any:
    """The rule checks shared with the enforcement (pure), imported when first needed so
    that a process that only reads (a CLI listing) never loads the Linux bridge package."""
    from naas_lib.drivers.linuxbridge import portsec_rules
    return portsec_rules


def _optional_int(field: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise exc.InvalidSecurityGroupRule(reason=f"{field} {value!r} is not an integer")
    return value


def rules_moved(session: orm.Session, group_ids: Sequence[str]) -> None:
    """Bump the revision of groups whose rules changed (as Neutron does).

    Hosts keep the groups they programmed by revision and fetch a group again
    before a plug only when its revision moved, so a rule change must move it.
    A relative increment: concurrent rule changes of one group both count.
    """
    if not group_ids:
        return
    table = models.SecurityGroup.__table__
    session.execute(sa.update(table).where(table.c.id.in_(sorted(set(group_ids))))
                    .values(revision_number=table.c.revision_number + 1,
                            updated_at=models.utcnow()))


def validated_rule(attrs: dict[str, Any]) -> RuleRequest:
    """A rule request checked as Neutron checks it; InvalidSecurityGroupRule otherwise."""
    rules_check = _rules()
    protocol = attrs.get("protocol")
    if isinstance(protocol, int) and not isinstance(protocol, bool):
        protocol = str(protocol)
    if protocol is not None and not isinstance(protocol, str):
        raise exc.InvalidSecurityGroupRule(reason=f"protocol {protocol!r} is not supported")
    if isinstance(protocol, str):
        protocol = protocol.lower() or None
        if protocol == "any":
            protocol = None
    prefix = attrs.get("remote_ip_prefix") or None
    ethertype = attrs.get("ethertype", "IPv4") or "IPv4"
    if isinstance(ethertype, str) and ethertype.lower() in ("ipv4", "ipv6"):
        ethertype = "IPv" + ethertype[-1]
    remote_group = attrs.get("remote_group_id") or None
    req = RuleRequest(
        direction=attrs.get("direction"), ethertype=ethertype, protocol=protocol,
        port_range_min=_optional_int("port_range_min", attrs.get("port_range_min")),
        port_range_max=_optional_int("port_range_max", attrs.get("port_range_max")),
        remote_ip_prefix=prefix, remote_group_id=remote_group,
        description=validation.string("description", attrs.get("description") or ""))
    if isinstance(prefix, str) and prefix in ("0.0.0.0/0", "::/0"):
        # Neutron stores "anywhere" as no prefix, so the two spellings are one rule.
        rules_check.check_rule(req.spec())
        req = dataclasses.replace(req, remote_ip_prefix=None)
    rules_check.check_rule(req.spec())
    if req.remote_ip_prefix is not None:
        req = dataclasses.replace(
            req, remote_ip_prefix=str(ipaddress.ip_network(req.remote_ip_prefix)))
    return req


def default_rules(group_id: str) -> list[RuleRequest]:
    """Neutron's rules of a ``default`` group: egress anything, ingress from members."""
    return [RuleRequest("egress", eth, None, None, None, None, None) for eth in ("IPv4", "IPv6")
            ] + [RuleRequest("ingress", eth, None, None, None, None, group_id)
                 for eth in ("IPv4", "IPv6")]


def egress_rules() -> list[RuleRequest]:
    return [RuleRequest("egress", eth, None, None, None, None, None) for eth in ("IPv4", "IPv6")]


class SecurityGroups:
    """create/get/list/update/delete of groups; create/get/list/delete of rules.

    ``changed`` is called after a commit with the ids of groups whose rules
    changed (this host's driver reprograms them).
    """

    def __init__(self, core: Core, lifecycle: lc.Lifecycle,
                 changed: Callable[[Sequence[str]], None] | None = None) -> None:
        self.core = core
        self.lifecycle = lifecycle
        self.changed = changed or (lambda ids: None)

    # -- reads -------------------------------------------------------------

    def visible_group(self, session: orm.Session, context: RequestContext,
                      group_id: Any) -> models.SecurityGroup:
        """A group the caller may see, or SecurityGroupNotFound (never Forbidden)."""
        row = session.get(models.SecurityGroup, group_id) if isinstance(group_id, str) else None
        if row is None or not self.core.authorize(context, "get_security_group",
                                                  {"project_id": row.project_id}):
            raise exc.SecurityGroupNotFound(id=group_id)
        return row

    def _visible_rule(self, session: orm.Session, context: RequestContext,
                      rule_id: Any) -> models.SecurityGroupRule:
        row = session.get(models.SecurityGroupRule, rule_id) \
            if isinstance(rule_id, str) else None
        if row is None or not self.core.authorize(context, "get_security_group_rule",
                                                  {"project_id": row.project_id}):
            raise exc.SecurityGroupRuleNotFound(id=rule_id)
        return row

    def get_security_group(self, context: RequestContext, security_group_id: str,
                           fields: list[str] | None = None
                           ) -> objects.SecurityGroup | dict[str, Any]:
        with self.core.db.reader() as session:
            group = load_groups(session, [self.visible_group(session, context,
                                                             security_group_id)])[0]
        return group.to_dict(fields) if fields else group

    def list_security_groups(self, context: RequestContext, fields: list[str] | None = None,
                             limit: int | None = None, marker: str | None = None,
                             sorts: list[tuple[str, bool]] | None = None,
                             page_reverse: bool = False, **filters: Any) -> list:
        """Groups the caller may see; a project's ``default`` group is made on first list."""
        if context.project_id and not context.is_admin:
            self.default_group_id(context, context.project_id)
        with self.core.db.reader() as session:
            q = sa.select(models.SecurityGroup)
            if not context.is_admin:
                q = q.where(models.SecurityGroup.project_id == context.project_id)
            return common.list_page(session, q, _GROUP_LISTING, filters, fields, limit, marker,
                                    sorts, page_reverse)

    def get_security_group_rule(self, context: RequestContext, security_group_rule_id: str,
                                fields: list[str] | None = None
                                ) -> objects.SecurityGroupRule | dict[str, Any]:
        with self.core.db.reader() as session:
            rule = rule_obj(self._visible_rule(session, context, security_group_rule_id))
        return rule.to_dict(fields) if fields else rule

    def list_security_group_rules(self, context: RequestContext,
                                  fields: list[str] | None = None, limit: int | None = None,
                                  marker: str | None = None,
                                  sorts: list[tuple[str, bool]] | None = None,
                                  page_reverse: bool = False, **filters: Any) -> list:
        with self.core.db.reader() as session:
            q = sa.select(models.SecurityGroupRule)
            if not context.is_admin:
                q = q.where(models.SecurityGroupRule.project_id == context.project_id)
            return common.list_page(session, q, _RULE_LISTING, filters, fields, limit, marker,
                                    sorts, page_reverse)

    # -- the default group -------------------------------------------------

    def default_in(self, session: orm.Session, project_id: str
                   ) -> tuple[str, objects.SecurityGroup | None]:
        """Inside the caller's transaction: the project's default group id, and the group
        when this call made it (the caller publishes its AFTER event after commit)."""
        row = session.get(models.DefaultSecurityGroup, project_id)
        if row is not None:
            return row.security_group_id, None
        group_id = str(uuid.uuid4())
        self._insert_group(session, group_id, {"name": DEFAULT_NAME, "project_id": project_id,
                                               "description": DEFAULT_DESCRIPTION},
                           default_rules(group_id))
        session.add(models.DefaultSecurityGroup(project_id=project_id,
                                                security_group_id=group_id))
        try:
            session.flush()
        except db_exc.DBDuplicateEntry as e:
            raise db_exc.RetryRequest(e) from e  # another request made it: run again
        return group_id, load_groups(session, [session.get(models.SecurityGroup, group_id)])[0]

    def in_network_create(self, session: orm.Session, request: dict[str, Any]
                          ) -> objects.SecurityGroup | None:
        """In a new network's transaction: make its project's default group if missing.

        Only when the network's ports get port security by default; returns the
        group when this call made it (announced by :meth:`after_network_create`).
        """
        if request.get("port_security_enabled", True) is False:
            return None
        return self.default_in(session, request["project_id"])[1]

    def after_network_create(self, context: RequestContext,
                             made: objects.SecurityGroup | None) -> None:
        """After the network's commit: the AFTER event of a default group it made."""
        if made is not None:
            self.announce_default(context, made)

    def announce_default(self, context: RequestContext, group: objects.SecurityGroup) -> None:
        """The AFTER event of a default group made inside another resource's transaction."""
        self.lifecycle.after(_G_CREATE, context, [lc.Outcome(group.id, after=group)])

    def default_group_id(self, context: RequestContext, project_id: str) -> str:
        """The id of ``project_id``'s default group, made (with events) when missing."""
        with self.core.db.reader() as session:
            row = session.get(models.DefaultSecurityGroup, project_id)
            if row is not None:
                return row.security_group_id
        group_id = str(uuid.uuid4())
        request = {"name": DEFAULT_NAME, "description": DEFAULT_DESCRIPTION,
                   "project_id": project_id}
        out = lc.Outcome(group_id, request=request)

        def write(session: orm.Session) -> list[lc.Outcome]:
            existing = session.get(models.DefaultSecurityGroup, project_id)
            if existing is not None:  # another request made it meanwhile
                out.extra = existing.security_group_id
                return []
            self._insert_group(session, group_id, request, default_rules(group_id))
            session.add(models.DefaultSecurityGroup(project_id=project_id,
                                                    security_group_id=group_id))
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as e:
                raise db_exc.RetryRequest(e) from e
            out.after = load_groups(session, [session.get(models.SecurityGroup, group_id)])[0]
            return [out]

        self.lifecycle.run(_G_CREATE, context, write, announced=[out])
        return out.extra or group_id

    # -- groups ------------------------------------------------------------

    def _insert_group(self, session: orm.Session, group_id: str, request: dict[str, Any],
                      rules: list[RuleRequest]) -> None:
        now = models.utcnow()
        session.add(models.SecurityGroup(
            id=group_id, project_id=request["project_id"], name=request["name"],
            description=request["description"], revision_number=1, created_at=now,
            updated_at=now))
        session.flush()
        for rule in rules:
            self._insert_rule(session, str(uuid.uuid4()), group_id, request["project_id"], rule)

    @staticmethod
    def _insert_rule(session: orm.Session, rule_id: str, group_id: str, project_id: str,
                     rule: RuleRequest) -> models.SecurityGroupRule:
        now = models.utcnow()
        row = models.SecurityGroupRule(
            id=rule_id, project_id=project_id, security_group_id=group_id,
            remote_group_id=rule.remote_group_id, direction=rule.direction,
            ethertype=rule.ethertype, protocol=rule.protocol,
            port_range_min=rule.port_range_min, port_range_max=rule.port_range_max,
            remote_ip_prefix=rule.remote_ip_prefix, description=rule.description,
            rule_key=rule.key(), revision_number=1, created_at=now, updated_at=now)
        session.add(row)
        return row

    def create_security_group(self, context: RequestContext, **attrs: Any
                              ) -> objects.SecurityGroup:
        """A new group with the two egress-anything rules (as in Neutron)."""
        validation.check_known("security_group", attrs, GROUP_FIELDS)
        attrs = dict(attrs)
        if attrs.pop("stateful", True) is not True:
            raise exc.InvalidInput(field="stateful", reason="only stateful groups exist here")
        project_id = self.core.owner_project(context, attrs)
        name = validation.string("name", attrs.get("name") or "")
        if name == DEFAULT_NAME:
            raise exc.Conflict("Default security group already exists; choose another name.")
        request = {"name": name, "project_id": project_id,
                   "description": validation.string("description",
                                                    attrs.get("description") or "")}
        self.core.enforce(context, "create_security_group", {"project_id": project_id})
        self.default_group_id(context, project_id)
        out = lc.Outcome(str(uuid.uuid4()), request=request)

        def write(session: orm.Session) -> list[lc.Outcome]:
            self._insert_group(session, out.resource_id, request, egress_rules())
            session.flush()
            out.after = load_groups(session, [session.get(models.SecurityGroup,
                                                          out.resource_id)])[0]
            return [out]

        self.lifecycle.run(_G_CREATE, context, write, announced=[out])
        return out.after

    def update_security_group(self, context: RequestContext, security_group_id: str,
                              expected_revision: int | None = None, **attrs: Any
                              ) -> objects.SecurityGroup:
        """Rename or describe a group (the ``default`` group keeps its name)."""
        validation.check_known("security_group", attrs, GROUP_UPDATE_FIELDS)
        values = {k: validation.string(k, attrs[k] if attrs[k] is not None else "")
                  for k in GROUP_UPDATE_FIELDS if k in attrs}
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_security_group(context, security_group_id)
        self.core.enforce(context, "update_security_group", {"project_id": old.project_id})
        if "name" in values and values["name"] != old.name and DEFAULT_NAME in (
                values["name"], old.name):
            raise exc.Conflict("The default security group cannot be renamed, and no other "
                               "group may be called 'default'.")
        out = lc.Outcome(security_group_id, before=old, request=values)

        def write(session: orm.Session) -> list[lc.Outcome]:
            row = self.visible_group(session, context, security_group_id)
            out.before = load_groups(session, [row])[0]
            common.bump_revision(session, models.SecurityGroup, "SecurityGroup",
                                 security_group_id, row.revision_number, expected_revision,
                                 values)
            session.expire(row)
            out.after = load_groups(session, [session.get(models.SecurityGroup,
                                                          security_group_id)])[0]
            return [out]

        self.lifecycle.run(_G_UPDATE, context, write, announced=[out])
        return out.after

    def delete_security_group(self, context: RequestContext, security_group_id: str,
                              expected_revision: int | None = None) -> None:
        """Delete a group no port uses (SecurityGroupInUse otherwise), the default one too.

        Rules of other groups that name it as ``remote_group_id`` go with it.
        """
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_security_group(context, security_group_id)
        self.core.enforce(context, "delete_security_group", {"project_id": old.project_id})
        out = lc.Outcome(security_group_id, before=old)
        R = models.SecurityGroupRule

        def write(session: orm.Session) -> list[lc.Outcome]:
            row = self.visible_group(session, context, security_group_id)
            if expected_revision is not None and expected_revision != row.revision_number:
                raise exc.RevisionConflict(resource="SecurityGroup",
                                           resource_id=security_group_id,
                                           current=row.revision_number,
                                           expected=expected_revision)
            used = session.scalars(sa.select(models.PortSecurityGroup.port_id).where(
                models.PortSecurityGroup.security_group_id == security_group_id).limit(1)).first()
            if used is not None:
                raise exc.SecurityGroupInUse(id=security_group_id,
                                             reason=f"port {used} is a member")
            out.before = load_groups(session, [row])[0]
            out.extra = sorted(set(session.scalars(sa.select(R.security_group_id).where(
                R.remote_group_id == security_group_id,
                R.security_group_id != security_group_id))))
            return [out]

        def finish(session: orm.Session, outs: list[lc.Outcome]) -> None:
            session.execute(sa.delete(R).where(sa.or_(R.security_group_id == security_group_id,
                                                      R.remote_group_id == security_group_id)))
            session.execute(sa.delete(models.DefaultSecurityGroup).where(
                models.DefaultSecurityGroup.security_group_id == security_group_id))
            session.execute(sa.delete(models.SecurityGroup).where(
                models.SecurityGroup.id == security_group_id))
            rules_moved(session, out.extra or [])

        self.lifecycle.run(_G_DELETE, context, write, announced=[out], finish=finish,
                           after_postcommit=lambda outs: self.changed(out.extra or []))

    # -- rules -------------------------------------------------------------

    def create_security_group_rule(self, context: RequestContext, **attrs: Any
                                   ) -> objects.SecurityGroupRule:
        """Add a rule; SecurityGroupRuleExists when the group already has the same one."""
        validation.check_known("security_group_rule", attrs, RULE_FIELDS)
        attrs = dict(attrs)
        for ignored in ("remote_address_group_id", "normalized_cidr"):
            if attrs.pop(ignored, None) is not None:
                raise exc.InvalidInput(field=ignored, reason="not supported")
        project_id = self.core.owner_project(context, attrs)
        group_id = attrs.get("security_group_id")
        if not isinstance(group_id, str) or not group_id:
            raise exc.InvalidInput(field="security_group_id", reason="required")
        rule = validated_rule(attrs)
        out = lc.Outcome(str(uuid.uuid4()), request={**dataclasses.asdict(rule),
                                                     "security_group_id": group_id,
                                                     "project_id": project_id})

        def write(session: orm.Session) -> list[lc.Outcome]:
            group = self.visible_group(session, context, group_id)
            self.core.enforce(context, "create_security_group_rule",
                              {"project_id": group.project_id})
            if project_id != group.project_id and not context.is_admin:
                raise exc.SecurityGroupNotFound(id=group_id)
            if rule.remote_group_id is not None:
                self.visible_group(session, context, rule.remote_group_id)
            R = models.SecurityGroupRule
            same = session.scalars(sa.select(R.id).where(R.security_group_id == group_id,
                                                         R.rule_key == rule.key())).first()
            if same is not None:
                raise exc.SecurityGroupRuleExists(rule_id=same)
            row = self._insert_rule(session, out.resource_id, group_id, group.project_id, rule)
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as e:
                raise db_exc.RetryRequest(e) from e  # the retry names the winner's rule
            out.after = rule_obj(row)
            rules_moved(session, [group_id])
            return [out]

        self.lifecycle.run(_R_CREATE, context, write, announced=[out],
                           after_postcommit=lambda outs: self.changed([group_id]))
        return out.after

    def delete_security_group_rule(self, context: RequestContext,
                                   security_group_rule_id: str,
                                   expected_revision: int | None = None) -> None:
        """Remove a rule; new connections it allowed stop at once on this host."""
        expected_revision = common.expected_revision(expected_revision)
        old = self.get_security_group_rule(context, security_group_rule_id)
        if expected_revision is not None and expected_revision != old.revision_number:
            raise exc.RevisionConflict(resource="SecurityGroupRule",
                                       resource_id=security_group_rule_id,
                                       current=old.revision_number, expected=expected_revision)
        self.core.enforce(context, "delete_security_group_rule", {"project_id": old.project_id})
        out = lc.Outcome(security_group_rule_id, before=old)

        def write(session: orm.Session) -> list[lc.Outcome]:
            out.before = rule_obj(self._visible_rule(session, context, security_group_rule_id))
            return [out]

        def finish(session: orm.Session, outs: list[lc.Outcome]) -> None:
            session.execute(sa.delete(models.SecurityGroupRule).where(
                models.SecurityGroupRule.id == security_group_rule_id))
            rules_moved(session, [out.before.security_group_id])

        self.lifecycle.run(_R_DELETE, context, write, announced=[out], finish=finish,
                           after_postcommit=lambda outs: self.changed(
                               [out.before.security_group_id]))
