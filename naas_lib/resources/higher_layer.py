"""The registry of higher-layer services and their network associations.

Firewall, NAT, VPN, load balancing and similar services stay out of the core:
they register themselves here (name, type, owner project) and are associated
with the networks they act on. The core's part is bookkeeping and telling
them about changes through events:

* ``SERVICE`` BEFORE/PRECOMMIT/AFTER ``_CREATE`` and ``_DELETE``;
* ``SERVICE_ASSOCIATION`` BEFORE/PRECOMMIT/AFTER ``_CREATE`` and ``_DELETE``,
  with ``resource_id`` the service id and ``metadata["network_id"]``;
* before a network is deleted, a ``SERVICE_ASSOCIATION`` ``BEFORE_DELETE``
  per associated service (``metadata["cause"] == "network_delete"``), so a
  subscribed service may veto the deletion by raising; after the deletion an
  ``AFTER_DELETE`` per association follows.

Removing a service removes its associations (each announced as above with
``cause == "service_delete"``). Tenancy follows the rest of the service: a
service of another project is "not found" for non-admins.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants, events, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.resources.core import Core
from naas_lib.resources.networks import Networks

SERVICE_TYPES = constants.SERVICE_TYPES

CAUSE_REQUEST = "request"
CAUSE_NETWORK_DELETE = "network_delete"
CAUSE_SERVICE_DELETE = "service_delete"


@dataclasses.dataclass(frozen=True)
class Service(objects._Owned):
    """A registered higher-layer service and the networks it is associated with."""

    id: str
    project_id: str
    name: str
    service_type: str
    description: str
    network_ids: tuple[str, ...]
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class ServiceAssociation(objects._Resource):
    """One (service, network) association."""

    service_id: str
    network_id: str
    created_at: datetime.datetime


def _service_obj(row: models.Service, network_ids: list[str]) -> Service:
    return Service(id=row.id, project_id=row.project_id, name=row.name,
                   service_type=row.service_type, description=row.description,
                   network_ids=tuple(network_ids), revision_number=row.revision_number,
                   created_at=row.created_at, updated_at=row.updated_at)


def _assoc_obj(row: models.ServiceNetworkAssociation) -> ServiceAssociation:
    return ServiceAssociation(service_id=row.service_id, network_id=row.network_id,
                              created_at=row.created_at)


def _target(row: models.Service) -> dict[str, Any]:
    return {"project_id": row.project_id}


class HigherLayerServices:
    """create/get/list/delete of services; associate/disassociate with networks.

    Registered as a delete hook of :class:`~naas_lib.resources.networks.Networks`:
    associated services hear of a network's deletion before and after it.
    """

    def __init__(self, core: Core, networks: Networks) -> None:
        self.core = core
        self.networks = networks
        networks.delete_hooks.append(self)

    # -- reads -------------------------------------------------------------

    def _service_row(self, session: orm.Session, context: RequestContext,
                     service_id: str) -> models.Service:
        if not isinstance(service_id, str):
            raise exc.ServiceNotFound(service_id=service_id)
        row = session.get(models.Service, validation.lookup("service_id", service_id))
        if row is None or not self.core.authorize(context, "get_service", _target(row)):
            raise exc.ServiceNotFound(service_id=service_id)
        return row

    @staticmethod
    def _load_services(session: orm.Session, rows: list[models.Service]) -> list[Service]:
        ids = [r.id for r in rows]
        nets: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            A = models.ServiceNetworkAssociation
            for sid, nid in session.execute(
                    sa.select(A.service_id, A.network_id).where(A.service_id.in_(ids))
                    .order_by(A.created_at, A.network_id)):
                nets[sid].append(nid)
        return [_service_obj(r, nets[r.id]) for r in rows]

    def get_service(self, context: RequestContext,
                    service_id: str) -> Service:
        """A service the caller may see, or ServiceNotFound."""
        with self.core.db.reader() as session:
            return self._load_services(session, [self._service_row(session, context,
                                                                     service_id)])[0]

    def list_services(self, context: RequestContext,
                      network_id: str | None = None, service_type: str | None = None,
                      name: str | None = None, project_id: str | None = None) -> list[Service]:
        """Services the caller may see, optionally only those associated with a network.

        With ``network_id`` the network must be visible to the caller
        (NetworkNotFound otherwise).
        """
        with self.core.db.reader() as session:
            q = sa.select(models.Service)
            if not context.is_admin:
                q = q.where(models.Service.project_id == context.project_id)
            if network_id is not None:
                self.networks.visible_row(session, context, network_id)
                A = models.ServiceNetworkAssociation
                q = q.join(A, A.service_id == models.Service.id).where(A.network_id == network_id)
            if service_type is not None:
                q = q.where(models.Service.service_type
                            == validation.lookup("service_type", service_type))
            if name is not None:
                q = q.where(models.Service.name == validation.lookup("name", name))
            if project_id is not None:
                q = q.where(models.Service.project_id == project_id)
            rows = list(session.scalars(q.order_by(models.Service.created_at,
                                                   models.Service.id)))
            return self._load_services(session, rows)

    def list_service_networks(self, context: RequestContext,
                              service_id: str) -> list[objects.Network]:
        """Networks a service is associated with, as far as the caller may see them."""
        with self.core.db.reader() as session:
            self._service_row(session, context, service_id)
            A = models.ServiceNetworkAssociation
            net_ids = list(session.scalars(sa.select(A.network_id)
                                           .where(A.service_id == service_id)
                                           .order_by(A.created_at, A.network_id)))
        if not net_ids:
            return []
        nets = {n.id: n for n in self.networks.list_networks(context, id=net_ids)}
        return [nets[i] for i in net_ids if i in nets]  # in association order

    def _associations(self, session: orm.Session, *, service_id: str | None = None,
                      network_id: str | None = None) -> list[ServiceAssociation]:
        A = models.ServiceNetworkAssociation
        q = sa.select(A)
        if service_id is not None:
            q = q.where(A.service_id == service_id)
        if network_id is not None:
            q = q.where(A.network_id == network_id)
        return [_assoc_obj(r) for r in session.scalars(q.order_by(A.created_at, A.service_id))]

    # -- create / delete ---------------------------------------------------

    def create_service(self, context: RequestContext, name: str,
                       service_type: str, description: str = "",
                       project_id: str | None = None) -> Service:
        """Register a higher-layer service owned by the caller's (or, for admins, any) project."""
        attrs: dict[str, Any] = {} if project_id is None else {"project_id": project_id}
        owner = self.core.owner_project(context, attrs)
        name = validation.string("name", name)
        if not name:
            raise exc.InvalidInput(field="name", reason="must not be empty")
        validation.choice("service_type", service_type, SERVICE_TYPES)
        description = validation.string("description", description)
        self.core.enforce(context, "create_service", {"project_id": owner})
        service_id = str(uuid.uuid4())
        request = {"name": name, "service_type": service_type, "description": description,
                   "project_id": owner}
        self.core.publish(events.SERVICE, events.BEFORE_CREATE,
                     events.EventPayload(context, service_id, request=request))

        def txn() -> Service:
            with self.core.db.writer() as session:
                now = models.utcnow()
                row = models.Service(id=service_id, project_id=owner, name=name,
                                     service_type=service_type, description=description,
                                     revision_number=1, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                svc = _service_obj(row, [])
                self.core.publish(events.SERVICE, events.PRECOMMIT_CREATE, events.EventPayload(
                    context, service_id, states=(None, svc), request=request, session=session))
                return svc

        svc = self.core.retrying(txn)()
        self.core.publish(events.SERVICE, events.AFTER_CREATE,
                     events.EventPayload(context, service_id, states=(None, svc),
                                         request=request))
        return svc

    def delete_service(self, context: RequestContext, service_id: str) -> None:
        """Remove a service and, with it, all its network associations."""
        old = self.get_service(context, service_id)
        self.core.enforce(context, "delete_service", {"project_id": old.project_id})
        with self.core.db.reader() as session:
            assocs = self._associations(session, service_id=service_id)
        self.core.publish(events.SERVICE, events.BEFORE_DELETE,
                     events.EventPayload(context, service_id, states=(old, None)))
        self._announce_dissociation(context, assocs, events.BEFORE_DELETE, CAUSE_SERVICE_DELETE)

        def txn() -> Service:
            with self.core.db.writer() as session:
                row = self._service_row(session, context, service_id)
                svc = self._load_services(session, [row])[0]
                self.core.publish(events.SERVICE, events.PRECOMMIT_DELETE, events.EventPayload(
                    context, service_id, states=(svc, None), session=session))
                session.execute(sa.delete(models.ServiceNetworkAssociation).where(
                    models.ServiceNetworkAssociation.service_id == service_id))
                session.execute(sa.delete(models.Service).where(models.Service.id == service_id))
                return svc

        svc = self.core.retrying(txn)()
        self._announce_dissociation(context, assocs, events.AFTER_DELETE, CAUSE_SERVICE_DELETE)
        self.core.publish(events.SERVICE, events.AFTER_DELETE,
                     events.EventPayload(context, service_id, states=(svc, None)))

    # -- associations ------------------------------------------------------

    def _check_network_writable(self, session: orm.Session,
                                context: RequestContext, network_id: str) -> models.Network:
        """The network must be visible (else NotFound) and changeable by the caller."""
        net = self.networks.visible_row(session, context, network_id)
        self.core.enforce(context, "update_network", {"project_id": net.project_id,
                                                 "shared": bool(net.shared)})
        return net

    def associate_service(self, context: RequestContext, service_id: str,
                          network_id: str) -> ServiceAssociation:
        """Associate a service with a network; ServiceInUse if it already is."""
        with self.core.db.reader() as session:
            svc = self._service_row(session, context, service_id)
            self.core.enforce(context, "associate_service", _target(svc))
            self._check_network_writable(session, context, network_id)
        meta = {"network_id": network_id, "cause": CAUSE_REQUEST}
        self.core.publish(events.SERVICE_ASSOCIATION, events.BEFORE_CREATE,
                     events.EventPayload(context, service_id, request=dict(meta),
                                         metadata=dict(meta)))

        def txn() -> ServiceAssociation:
            with self.core.db.writer() as session:
                self._service_row(session, context, service_id)
                self.networks.visible_row(session, context, network_id)
                A = models.ServiceNetworkAssociation
                exists = session.get(A, (service_id, network_id))
                if exists is not None:
                    raise exc.ServiceInUse(service_id=service_id, net_id=network_id)
                row = A(service_id=service_id, network_id=network_id,
                        created_at=models.utcnow())
                session.add(row)
                try:
                    session.flush()
                except db_exc.DBDuplicateEntry:
                    raise exc.ServiceInUse(service_id=service_id, net_id=network_id) from None
                assoc = _assoc_obj(row)
                self.core.publish(events.SERVICE_ASSOCIATION, events.PRECOMMIT_CREATE,
                             events.EventPayload(context, service_id, states=(None, assoc),
                                                 session=session, metadata=dict(meta)))
                return assoc

        assoc = self.core.retrying(txn)()
        self.core.publish(events.SERVICE_ASSOCIATION, events.AFTER_CREATE,
                     events.EventPayload(context, service_id, states=(None, assoc),
                                         metadata=dict(meta)))
        return assoc

    def disassociate_service(self, context: RequestContext, service_id: str,
                             network_id: str) -> None:
        """Remove one association; NotFound when the service is not on that network."""
        A = models.ServiceNetworkAssociation
        with self.core.db.reader() as session:
            svc = self._service_row(session, context, service_id)
            self.core.enforce(context, "disassociate_service", _target(svc))
            self._check_network_writable(session, context, network_id)
            row = session.get(A, (service_id, network_id))
            if row is None:
                raise exc.NotFound(f"Service {service_id} is not associated with network "
                                   f"{network_id}.")
            assoc = _assoc_obj(row)
        self._announce_dissociation(context, [assoc], events.BEFORE_DELETE, CAUSE_REQUEST)

        def txn() -> None:
            with self.core.db.writer() as session:
                self.core.publish(events.SERVICE_ASSOCIATION, events.PRECOMMIT_DELETE,
                             events.EventPayload(context, service_id, states=(assoc, None),
                                                 session=session,
                                                 metadata={"network_id": network_id,
                                                           "cause": CAUSE_REQUEST}))
                session.execute(sa.delete(A).where(A.service_id == service_id,
                                                   A.network_id == network_id))

        self.core.retrying(txn)()
        self._announce_dissociation(context, [assoc], events.AFTER_DELETE, CAUSE_REQUEST)

    def _announce_dissociation(self, context: RequestContext,
                               assocs: list[ServiceAssociation], event: str,
                               cause: str) -> None:
        for assoc in assocs:
            self.core.publish(events.SERVICE_ASSOCIATION, event, events.EventPayload(
                context, assoc.service_id, states=(assoc, None),
                metadata={"network_id": assoc.network_id, "cause": cause}))

    # -- network deletion tells the associated services first ---------------

    def before_network_delete(self, context: RequestContext, network: objects.Network
                              ) -> list[ServiceAssociation]:
        """Announce each association of a network about to go (a subscriber may veto)."""
        with self.core.db.reader() as session:
            assocs = self._associations(session, network_id=network.id)
        self._announce_dissociation(context, assocs, events.BEFORE_DELETE, CAUSE_NETWORK_DELETE)
        return assocs

    def after_network_delete(self, context: RequestContext,
                             assocs: list[ServiceAssociation]) -> None:
        """The network went, and its associations with it."""
        self._announce_dissociation(context, assocs, events.AFTER_DELETE, CAUSE_NETWORK_DELETE)
