"""Port bindings per host, as Neutron's port bindings extension has them.

A port has one ACTIVE binding (the host that counts: its status, its network
info, where peers forward its traffic) and may have INACTIVE bindings on
other hosts while it moves (live migration). Creating a binding is database
only: the destination host's driver chooses VIF type and details through the
``Binder``, as for any binding. Every host plugs every port with any binding
on it (see ``Sync.desired_state``), so a destination is ready before the
binding is activated; activation makes the old ACTIVE binding INACTIVE.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.resources import common
from naas_lib.resources import lifecycle as lc
from naas_lib.resources.binding import BINDING_ACTIVE, BINDING_INACTIVE, Binder
from naas_lib.resources.core import Core
from naas_lib.resources.plugging import Plugging
from naas_lib.resources.ports import Ports

LOG = logging.getLogger(__name__)
_bindings = models.PortBinding.__table__
_UPDATE = lc.Phases("port", lc.UPDATE)


def thaw(value: Any) -> Any:
    """A plain, JSON-serializable copy of a frozen mapping (nested ones too)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def binding_obj(row: models.PortBinding) -> objects.PortBinding:
    return objects.PortBinding(
        port_id=row.port_id, host=row.host, status=row.status, vif_type=row.vif_type,
        vif_details=json.loads(row.vif_details), profile=json.loads(row.profile))


class PortBindings:
    """list/get/create/activate/delete of a port's bindings."""

    def __init__(self, core: Core, lifecycle: lc.Lifecycle, ports: Ports, binder: Binder,
                 plugging: Plugging) -> None:
        self.core = core
        self.lifecycle = lifecycle
        self.ports = ports
        self.binder = binder
        self.plugging = plugging

    # -- reads -------------------------------------------------------------

    def list_port_bindings(self, context: RequestContext, port_id: str,
                           host: str | None = None, status: str | None = None
                           ) -> list[objects.PortBinding]:
        """The port's bindings on hosts (an unbound port has none), ACTIVE first."""
        with self.core.db.reader() as session:
            self.ports.visible_row(session, context, port_id)
            q = sa.select(models.PortBinding).where(models.PortBinding.port_id == port_id,
                                                    models.PortBinding.host != "")
            if host is not None:
                q = q.where(models.PortBinding.host == host)
            if status is not None:
                q = q.where(models.PortBinding.status == status)
            rows = session.scalars(q.order_by(models.PortBinding.status,
                                              models.PortBinding.host))
            return [binding_obj(r) for r in rows]

    def list_bindings_of_ports(self, context: RequestContext, port_ids: Sequence[str]
                               ) -> dict[str, list[objects.PortBinding]]:
        """The bindings of many ports in one read: port id -> its bindings, ACTIVE first.

        Ports the caller may not see, or that do not exist, are absent (as
        ``list_port_bindings`` would answer PortNotFound for them); an unbound
        port maps to an empty list. Nova's flows read an instance's ports'
        bindings this way instead of one read per port.
        """
        ids = list(dict.fromkeys(validation.lookup("port_id", p) for p in port_ids))
        if not ids:
            return {}
        with self.core.db.reader() as session:
            owners = session.execute(sa.select(models.Port.id, models.Port.project_id)
                                     .where(models.Port.id.in_(ids)))
            result: dict[str, list[objects.PortBinding]] = {
                port_id: [] for port_id, project_id in owners
                if self.core.authorize(context, "get_port", {"project_id": project_id})}
            if result:
                rows = session.scalars(
                    sa.select(models.PortBinding)
                    .where(models.PortBinding.port_id.in_(list(result)),
                           models.PortBinding.host != "")
                    .order_by(models.PortBinding.status, models.PortBinding.host))
                for row in rows:
                    result[row.port_id].append(binding_obj(row))
        return result

    def get_port_binding(self, context: RequestContext, port_id: str, host: str
                         ) -> objects.PortBinding:
        with self.core.db.reader() as session:
            self.ports.visible_row(session, context, port_id)
            return binding_obj(self._row(session, port_id, host))

    @staticmethod
    def _row(session: orm.Session, port_id: str, host: Any) -> models.PortBinding:
        row = session.get(models.PortBinding, (port_id, host)) \
            if isinstance(host, str) and host else None
        if row is None:
            raise exc.PortBindingNotFound(port_id=port_id, host=host)
        return row

    def _port_and_network(self, session: orm.Session, context: RequestContext, port_id: str
                          ) -> tuple[objects.Port, objects.Network]:
        row = self.ports.visible_row(session, context, port_id)
        self.core.enforce(context, "update_port:binding", {"project_id": row.project_id})
        port = common.load_ports(session, [row])[0]
        net = common.load_networks(session, [session.get(models.Network, row.network_id)])[0]
        return port, net

    # -- writes ------------------------------------------------------------

    def create_port_binding(self, context: RequestContext, port_id: str, host: str,
                            profile: dict[str, Any] | None = None) -> objects.PortBinding:
        """Bind the port to ``host`` as well: INACTIVE, or ACTIVE when the port is unbound.

        Database only (Nova's conductor calls it): ``host``'s driver chooses
        VIF type and details; ``host`` plugs the port's devices at its next
        sync or ``plug_port``. A binding that exists already is a conflict.
        """
        host = validation.string("host", host)
        if not host:
            raise exc.InvalidInput(field="host", reason="required")
        profile = validation.json_dict("profile", profile) if profile is not None else None

        def txn() -> tuple[objects.Port, objects.Port, objects.PortBinding]:
            with self.core.db.writer() as session:
                port, net = self._port_and_network(session, context, port_id)
                if session.get(models.PortBinding, (port_id, host)) is not None:
                    raise exc.PortBindingAlreadyExists(port_id=port_id, host=host)
                wanted = port.replace(binding_profile=profile) if profile is not None \
                    else port
                if port.binding_host_id is None:
                    # Neutron: a port with no host gets its first binding ACTIVE.
                    if profile is not None:
                        self.binder.set_profile(session, port_id, profile)
                    after = self.binder.bind(session, wanted, net, host)
                    common.bump_revision(session, models.Port, "Port", port_id,
                                         port.revision_number, None, {})
                    return port, after, binding_obj(self._row(session, port_id, host))
                return port, port, self._insert_inactive(session, wanted, net, host)

        before, after, binding = self.core.retrying(txn)()
        if after is not before:
            self.plugging.after_port_update(before, after, self._network_of(after))
        return binding

    def create_port_bindings(self, context: RequestContext, port_ids: Sequence[str], host: str,
                             profiles: Mapping[str, Mapping[str, Any]] | None = None
                             ) -> dict[str, objects.PortBinding]:
        """Bind many ports to ``host`` as well, in ONE transaction: port id -> binding.

        As ``create_port_binding`` per port (INACTIVE, or ACTIVE for an
        unbound port; ``host``'s driver chooses; ``profiles`` may give a
        port's profile there), except that a binding that exists already is
        kept and returned (a repeat), and that it is all or none. Nova's
        conductor binds all of an instance's ports before a live migration.
        """
        host = validation.string("host", host)
        if not host:
            raise exc.InvalidInput(field="host", reason="required")
        ids = list(dict.fromkeys(validation.lookup("port_id", p) for p in port_ids))
        wanted_profiles = {pid: validation.json_dict("profile", dict(prof))
                           for pid, prof in (profiles or {}).items() if prof is not None}

        def txn() -> tuple[dict[str, objects.PortBinding],
                           list[tuple[objects.Port, objects.Port, objects.Network]]]:
            result, bound = {}, []
            with self.core.db.writer() as session:
                for port_id in ids:
                    self.ports.visible_row(session, context, port_id)
                    row = session.get(models.PortBinding, (port_id, host))
                    if row is not None:
                        result[port_id] = binding_obj(row)
                        continue
                    port, net = self._port_and_network(session, context, port_id)
                    profile = wanted_profiles.get(port_id)
                    wanted = port.replace(binding_profile=profile) if profile is not None \
                        else port
                    if port.binding_host_id is not None:
                        result[port_id] = self._insert_inactive(session, wanted, net, host)
                        continue
                    # Neutron: a port with no host gets its first binding ACTIVE.
                    if profile is not None:
                        self.binder.set_profile(session, port_id, profile)
                    after = self.binder.bind(session, wanted, net, host)
                    common.bump_revision(session, models.Port, "Port", port_id,
                                         port.revision_number, None, {})
                    result[port_id] = binding_obj(self._row(session, port_id, host))
                    bound.append((port, after, net))
            return result, bound

        result, bound = self.core.retrying(txn)()
        for before, after, net in bound:
            self.plugging.after_port_update(before, after, net)
        return result

    def _inactive(self, session: orm.Session, context: RequestContext, port_id: str,
                  host: str, if_active: type[exc.NaasError]) -> tuple[Any, Any, Any]:
        """The port, its network and its binding on ``host``, which must be INACTIVE."""
        port, net = self._port_and_network(session, context, port_id)
        row = self._row(session, port_id, host)
        if row.active:
            raise if_active(port_id=port_id, host=host)
        return port, net, row

    def activate_port_binding(self, context: RequestContext, port_id: str, host: str
                              ) -> objects.PortBinding:
        """Make the port's binding on ``host`` the ACTIVE one; the old one becomes INACTIVE.

        The port reads BUILD until ``host`` reports its device wired (at once
        when this service is ``host``); its network info, status and peers'
        forwarding follow the new host. Activating the ACTIVE binding is a
        conflict (PortBindingAlreadyActive), as in Neutron.
        """
        def txn() -> tuple[objects.Port, objects.Port, objects.Network, objects.PortBinding]:
            with self.core.db.writer() as session:
                port, net, row = self._inactive(session, context, port_id, host,
                                                exc.PortBindingAlreadyActive)
                binding = binding_obj(row).replace(status=BINDING_ACTIVE)
                self._make_active(session, port_id, host)
                return port, self._moved(session, port, net, binding), net, binding

        before, after, net, binding = self.core.retrying(txn)()
        if self.core.host == host:
            try:
                after = self.plugging.plug_port(port_id)
            except exc.NaasError:
                pass  # recorded as the port's status; sync retries
        self._forget_mac(after, net)
        self.lifecycle.after(_UPDATE, context, [lc.Outcome(port_id, before=before, after=after,
                                                           network=net)])
        return binding

    def _insert_inactive(self, session: orm.Session, port: objects.Port,
                         net: objects.Network, host: str) -> objects.PortBinding:
        """An INACTIVE binding of ``port`` (with its profile) on ``host``, as written."""
        binding = self.binder.choose(session, port, net, host)
        made = objects.PortBinding(
            port_id=port.id, host=host, status=BINDING_INACTIVE,
            vif_type=binding.vif_type, vif_details=thaw(binding.vif_details),
            profile=thaw(port.binding_profile))
        session.execute(sa.insert(_bindings).values(
            port_id=port.id, host=host, status=BINDING_INACTIVE, active=None,
            vif_type=made.vif_type, vif_details=json.dumps(thaw(made.vif_details)),
            profile=json.dumps(thaw(made.profile))))
        return made

    @staticmethod
    def _make_active(session: orm.Session, port_id: str, host: str) -> None:
        """``host``'s existing binding becomes the ACTIVE one; the old one INACTIVE."""
        session.execute(sa.delete(_bindings).where(
            _bindings.c.port_id == port_id, _bindings.c.active.is_(True),
            _bindings.c.host == ""))
        session.execute(sa.update(_bindings).where(
            _bindings.c.port_id == port_id, _bindings.c.active.is_(True)).values(
            active=None, status=BINDING_INACTIVE))
        session.execute(sa.update(_bindings).where(
            _bindings.c.port_id == port_id, _bindings.c.host == host).values(
            active=True, status=BINDING_ACTIVE))

    @staticmethod
    def _moved(session: orm.Session, port: objects.Port, net: objects.Network,
               binding: objects.PortBinding) -> objects.Port:
        """After ``binding`` became ACTIVE: the attachment follows, the port reads BUILD.

        Returns the port as written (no read back): bound as ``binding`` says.
        """
        session.execute(sa.update(models.Attachment).where(
            models.Attachment.port_id == port.id).values(host=binding.host))
        up = port.admin_state_up and net.admin_state_up
        values = {"status": constants.PORT_STATUS_BUILD if up else constants.PORT_STATUS_DOWN,
                  "status_reason": None, "revision_number": port.revision_number + 1,
                  "updated_at": models.utcnow()}
        if session.execute(sa.update(models.Port).where(
                models.Port.id == port.id, models.Port.revision_number == port.revision_number)
                .values(**values).execution_options(synchronize_session=False)).rowcount != 1:
            raise exc.ConcurrentModification(resource="Port", resource_id=port.id)
        return port.replace(binding_host_id=binding.host, binding_vif_type=binding.vif_type,
                            binding_vif_details=thaw(binding.vif_details),
                            binding_profile=thaw(binding.profile), **values)

    def bind_ports_only_to(self, context: RequestContext, port_ids: Sequence[str],
                           host: str, exclusive: bool = True) -> list[objects.Port]:
        """Make ``host``'s binding of every port the ACTIVE one, in ONE transaction.

        A port with no binding on ``host`` gets one (``host``'s driver
        chooses, as for any binding); with ``exclusive`` the bindings on other
        hosts go (database only: a dead host's sync removes its devices when
        it comes back). All or none; a port already so bound is left as it is
        (a repeat writes nothing). Moved ports read BUILD until ``host``
        reports them wired (at once when this service is ``host``). Nova's
        cold migration, resize, evacuation and unshelve, for all the
        instance's ports at once. Returns the ports as they are now.
        """
        host = validation.string("host", host)
        if not host:
            raise exc.InvalidInput(field="host", reason="required")
        ids = list(dict.fromkeys(validation.lookup("port_id", p) for p in port_ids))

        def txn() -> tuple[list[tuple[objects.Port, objects.Port, objects.Network]],
                           list[tuple[objects.Port, objects.Network, objects.PortBinding]]]:
            moved, dropped = [], []
            with self.core.db.writer() as session:
                for port_id in ids:
                    self.ports.visible_row(session, context, port_id)
                    rows = {r.host: r for r in session.scalars(sa.select(models.PortBinding)
                            .where(models.PortBinding.port_id == port_id,
                                   models.PortBinding.host != ""))}
                    here = rows.get(host)
                    others = [r for h, r in rows.items() if h != host]
                    if here is not None and here.active and not (exclusive and others):
                        continue  # bound so already: a repeat reads, never writes
                    port, net = self._port_and_network(session, context, port_id)
                    after = port
                    binding = (self._insert_inactive(session, port, net, host)
                               if here is None else binding_obj(here))
                    if binding.status != BINDING_ACTIVE:
                        self._make_active(session, port_id, host)
                        after = self._moved(session, port, net, binding)
                    if exclusive and others:
                        dropped.extend((port, net, binding_obj(r)) for r in others)
                        session.execute(sa.delete(_bindings).where(
                            _bindings.c.port_id == port_id,
                            _bindings.c.host.in_([r.host for r in others])))
                    if after is not port:
                        moved.append((port, after, net))
            return moved, dropped

        moved, dropped = self.core.retrying(txn)()
        for port, net, binding in dropped:
            if binding.host == self.core.host:
                self.plugging.unplug_quietly(port.replace(
                    binding_host_id=binding.host, binding_vif_type=binding.vif_type,
                    binding_vif_details=thaw(binding.vif_details),
                    binding_profile=thaw(binding.profile)), net)
        result = {after.id: after for _b, after, _n in moved}
        for _before, after, net in moved:
            if self.core.host == host:
                try:
                    result[after.id] = self.plugging.plug_port(after.id)
                except exc.NaasError:
                    pass  # recorded as the port's status; sync retries
            self._forget_mac(after, net)
        if moved:
            self.lifecycle.after(_UPDATE, context, [
                lc.Outcome(before.id, before=before, after=result[before.id], network=net)
                for before, _after, net in moved])
        return list(result.values())

    def delete_port_binding(self, context: RequestContext, port_id: str, host: str) -> None:
        """Remove the port's INACTIVE binding on ``host`` (and its devices there).

        Deleting the ACTIVE binding is refused (PortBindingActive): unbind
        the port (``binding_host_id`` None) instead.
        """
        def txn() -> tuple[objects.Port, objects.Network, objects.PortBinding]:
            with self.core.db.writer() as session:
                port, net, row = self._inactive(session, context, port_id, host,
                                                exc.PortBindingActive)
                binding = binding_obj(row)
                session.execute(sa.delete(_bindings).where(
                    _bindings.c.port_id == port_id, _bindings.c.host == host))
                return port, net, binding

        port, net, binding = self.core.retrying(txn)()
        if self.core.host == host:
            self.plugging.unplug_quietly(port.replace(
                binding_host_id=host, binding_vif_type=binding.vif_type,
                binding_vif_details=thaw(binding.vif_details),
                binding_profile=thaw(binding.profile)), net)
            self._forget_mac(port, net)

    def forget_moved_mac(self, port_id: str) -> None:
        """This host's bridge forgets where the port's MAC was (the port moved here or away).

        Called by the host a guest has just moved to (Nova's
        ``post_live_migration_at_destination``): until the guest speaks, an
        entry naming the old path (the VXLAN device) would swallow its traffic.
        """
        validation.lookup("port_id", port_id)
        with self.core.db.reader() as session:
            row = session.get(models.Port, port_id)
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            port = common.load_ports(session, [row])[0]
            net = common.network_by_id(session, row.network_id)
        self._forget_mac(port, net)

    def _forget_mac(self, port: objects.Port, net: objects.Network) -> None:
        """Flush the port's MAC from this host's forwarding tables; a failure is logged.

        Only drivers with a ``forget_mac(network, mac)`` keep forwarding
        tables (the Linux bridge driver); a service without a host has none.
        """
        forget = getattr(self.core.driver, "forget_mac", None)
        if forget is None or not self.core.host:
            return
        try:
            forget(net, port.mac_address)
        except Exception:  # the tables relearn anyway; never fail the move for it
            LOG.warning("Could not flush MAC %s of port %s from the forwarding tables",
                        port.mac_address, port.id, exc_info=True)

    def _network_of(self, port: objects.Port) -> objects.Network:
        with self.core.db.reader() as session:
            return common.load_networks(session, [session.get(models.Network,
                                                              port.network_id)])[0]
