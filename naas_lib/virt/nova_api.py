"""A drop-in for Nova's network API (``nova.network.neutron.API``) on a NetworkService.

``API(service)`` has the method names and signatures of Nova 34's class for
every method Nova's services call, takes Nova's objects duck-typed (its
``RequestContext``, ``Instance``, ``NetworkRequestList``, ``Migration``) and
returns ``nova.network.model.NetworkInfo`` when Nova is importable (a list of
VIF dictionaries otherwise). The :class:`~naas_lib.virt.provisioner.Provisioner`
stays the lower-level door; ``naas_lib.virt.nova_hook`` makes every Nova
service use this class.

The instance's ports are the ports whose ``device_id`` is its uuid, as in
Nova. The flows (``doc/source/nova.rst``):

* hot-plug: ``allocate_for_instance`` with the new request only, then
  ``deallocate_port_for_instance``;
* live migration: ``bind_ports_to_host`` (INACTIVE bindings on the
  destination, database only) -> ``setup_networks_on_host`` on the
  destination (plugs there) -> ``migrate_instance_start`` (activates) ->
  ``cleanup_instance_network_on_host`` / ``setup_networks_on_host(teardown=True)``
  on the source (removes its binding and device); an abort deletes the
  destination's bindings and never touches the source;
* cold migration, resize, evacuation, unshelve: ``migrate_instance_finish`` /
  ``setup_instance_network_on_host`` make the target host's binding the ACTIVE
  one and drop the others (the old host's ``sync`` removes its devices, a
  dead host's included, when it runs again);
* shelve-offload: ``unbind_ports`` keeps ports and addresses.

Every step is idempotent: a repeat finds the state it would make and does
nothing. Features the library lacks (floating IPs, resource requests, QoS,
SR-IOV) answer as Neutron does without the extension.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from naas_lib import exceptions as exc
from naas_lib import objects, wire
from naas_lib.context import RequestContext
from naas_lib.service import NetworkService
from naas_lib.virt import network_info
from naas_lib.virt.provisioner import NicRequest, Provisioner

LOG = logging.getLogger(__name__)

_LIVE = "live-migration"
_ACTIVE = "ACTIVE"

_default_service: NetworkService | None = None


def set_default_service(service: NetworkService | None) -> None:
    """The service ``API()`` uses when Nova builds it without arguments (see nova_hook)."""
    global _default_service
    _default_service = service


def _read(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    try:
        return getattr(obj, name, default)
    except Exception:  # Nova objects raise on unset lazy fields
        return default


def to_context(context: Any) -> RequestContext:
    """naas_lib's context for Nova's (an oslo.context context, duck-typed)."""
    if isinstance(context, RequestContext):
        return context
    if context is None:
        return RequestContext(is_admin=True, roles=["admin"])
    roles = list(_read(context, "roles") or [])
    return RequestContext(project_id=_read(context, "project_id"),
                          user_id=_read(context, "user_id"), roles=roles,
                          is_admin=bool(_read(context, "is_admin", False)))


def hydrate(vifs: list[dict[str, Any]]) -> Any:
    """``nova.network.model.NetworkInfo`` of the VIF dictionaries when Nova is importable."""
    try:
        from nova.network import model
    except ImportError:
        return vifs
    return model.NetworkInfo.hydrate(vifs)


def _nic_requests(requested_networks: Any) -> list[NicRequest]:
    """NicRequests of Nova's NetworkRequestList (or a list of dicts/tuples)."""
    items = _read(requested_networks, "objects", requested_networks) or []
    nics = []
    for r in items:
        if isinstance(r, tuple):
            network_id, fixed_ip, port_id = (list(r) + [None, None, None])[:3]
            nics.append(NicRequest(network_id=network_id, port_id=port_id,
                                   fixed_ip=str(fixed_ip) if fixed_ip else None))
            continue
        network_id = _read(r, "network_id")
        if network_id in ("auto", "none"):
            continue  # Nova's "no network" / auto-allocation: nothing to make here
        address = _read(r, "address")
        nics.append(NicRequest(network_id=network_id, port_id=_read(r, "port_id"),
                               fixed_ip=str(address) if address else None,
                               binding_profile=_read(r, "binding_profile")))
    return nics


class API:
    """Nova's network API, served by a NetworkService in the Nova process."""

    def __init__(self, service: NetworkService | None = None, **_: Any) -> None:
        service = service if service is not None else _default_service
        if service is None:
            raise exc.InvalidInput(field="service", reason=(
                "API() needs a NetworkService: pass one or call "
                "naas_lib.virt.nova_hook.install(service) first"))
        self.service = service
        self.provisioner = Provisioner(service)

    # -- helpers ---------------------------------------------------------------

    def _admin(self) -> RequestContext:
        return RequestContext(is_admin=True, roles=["admin"])

    def _instance_ports(self, instance: Any) -> list[objects.Port]:
        uuid = _read(instance, "uuid")
        if not uuid:
            raise exc.InvalidInput(field="instance.uuid", reason="required")
        ports = self.service.list_ports(self._admin(), device_id=uuid)
        return sorted(ports, key=lambda p: (p.created_at, p.id))

    def _vifs(self, ports: Iterable[objects.Port]) -> list[dict[str, Any]]:
        ports = list(ports)
        if not ports:
            return []
        admin = self._admin()
        net_ids = sorted({p.network_id for p in ports})
        nets = {n.id: n for n in self.service.list_networks(admin, id=net_ids)}
        subnets: dict[str, list[objects.Subnet]] = {}
        for s in self.service.list_subnets(admin, network_id=net_ids):
            subnets.setdefault(s.network_id, []).append(s)
        instances = sorted({p.device_id for p in ports if p.device_id})
        owned = {a.port_id: a.owns_port for i in instances
                 for a in self.service.list_attachments(admin, instance_id=i)}
        return [network_info.vif_info(p, nets[p.network_id], subnets.get(p.network_id, []),
                                      preserve_on_delete=not owned.get(p.id, False))
                for p in ports]

    def _bindings(self, port_id: str) -> dict[str, objects.PortBinding]:
        return {b.host: b for b in self.service.list_port_bindings(self._admin(), port_id)}

    def _bindings_of(self, ports: Iterable[objects.Port]
                     ) -> dict[str, dict[str, objects.PortBinding]]:
        """port id -> host -> binding of every port, in one read."""
        found = self.service.list_bindings_of_ports(self._admin(), [p.id for p in ports])
        return {port_id: {b.host: b for b in bindings} for port_id, bindings in found.items()}

    def _activate_on(self, instance: Any, host: str, drop_others: bool) -> None:
        """Make ``host``'s binding of every port of the instance ACTIVE (idempotent).

        One transaction for all the instance's ports. ``drop_others`` also
        deletes the bindings on other hosts (database only: a dead host is
        never asked; its sync removes its devices later).
        """
        ports = self._instance_ports(instance)
        if ports:
            self.service.bind_ports_only_to(self._admin(), [p.id for p in ports], host,
                                            exclusive=drop_others)

    def _delete_binding(self, port_id: str, host: str) -> None:
        try:
            self.service.delete_port_binding(self._admin(), port_id, host)
        except (exc.PortBindingNotFound, exc.PortNotFound):
            pass  # gone already: deleting is idempotent
        except exc.PortBindingActive:
            LOG.info("Port %s: the binding on %s is the active one; kept", port_id, host)

    # -- network info ----------------------------------------------------------

    def get_instance_nw_info(self, context, instance, **kwargs):
        """The instance's VIFs, from the database (bindings, addresses, MTU)."""
        port_ids = kwargs.get("port_ids")
        ports = self._instance_ports(instance)
        if port_ids:
            order = {pid: i for i, pid in enumerate(port_ids)}
            ports = sorted((p for p in ports if p.id in order), key=lambda p: order[p.id])
        return hydrate(self._vifs(ports))

    # -- allocate and deallocate -----------------------------------------------

    def allocate_for_instance(self, context, instance, requested_networks,
                              security_groups=None, bind_host_id=None,
                              resource_provider_mapping=None, network_arqs=None):
        """Create, attach and bind the requested NICs (all or none): their network info.

        At boot ``requested_networks`` is every NIC; for a hot-plug it is the
        new one only, and the instance's other NICs are untouched. A port
        already attached to this instance is returned as it is (a repeat).
        """
        ctx = to_context(context)
        host = bind_host_id or _read(instance, "host") or self.service.host
        uuid = _read(instance, "uuid")
        nics, existing = [], []
        for nic in _nic_requests(requested_networks):
            if nic.port_id is not None:
                try:
                    att = self.service.get_attachment(self._admin(), nic.port_id)
                except exc.NotFound:
                    att = None
                if att is not None and att.instance_id == uuid:
                    existing.append(nic.port_id)
                    continue
            nics.append(nic)
        vifs = self.provisioner.allocate_for_instance(ctx, instance, nics, host=host) \
            if nics else []
        if existing:
            by_id = {v["id"]: v for v in self._vifs(
                p for p in self._instance_ports(instance) if p.id in existing)}
            vifs = [by_id[i] for i in existing if i in by_id] + list(vifs)
        return hydrate(vifs)

    def deallocate_for_instance(self, context, instance, **kwargs):
        """Detach every port of the instance and delete those made for it (idempotent)."""
        self.provisioner.deallocate_for_instance(to_context(context), instance)
        for port in self._instance_ports(instance):
            # Ports the instance brought: let go of them (device_id cleared).
            self._release(port, delete=False)

    def _release(self, port: objects.Port, delete: bool) -> None:
        admin = self._admin()
        try:
            att = self.service.get_attachment(admin, port.id)
        except exc.NotFound:
            att = None
        try:
            if att is not None:
                self.service.detach_port(admin, port.id)
            if delete or (att is not None and att.owns_port):
                self.service.delete_port(admin, port.id)
            elif att is None or att.instance_id != port.device_id:
                # Detaching clears the binding, and device_id when it names the
                # attached instance (always so for an instance's port): only
                # otherwise is there anything left to clear.
                now = self.service.get_port(admin, port.id)
                changes: dict[str, Any] = {}
                if now.device_id:
                    changes.update(device_id="", device_owner="")
                if now.binding_host_id is not None:
                    changes["binding_host_id"] = None
                if changes:
                    self.service.update_port(admin, port.id, **changes)
        except exc.PortNotFound:
            pass

    def deallocate_port_for_instance(self, context, instance, port_id):
        """Hot-unplug one NIC: its port is released (deleted when made for the
        instance); returns the instance's network info and no resource allocation."""
        ports = self._instance_ports(instance)
        for port in ports:
            if port.id == port_id:
                self._release(port, delete=False)
        # The others are untouched: their network info needs no second port read.
        return hydrate(self._vifs(p for p in ports if p.id != port_id)), []

    def validate_networks(self, context, requested_networks, num_instances):
        """How many instances may boot with these networks (all: no quota here)."""
        ctx = to_context(context)
        for nic in _nic_requests(requested_networks):
            if nic.port_id is not None:
                port = self.service.get_port(ctx, nic.port_id)
                if port.device_id:
                    raise exc.PortInUse(port_id=port.id, interface_id=port.device_id)
            elif nic.network_id is not None:
                self.service.get_network(ctx, nic.network_id)
        return num_instances

    def add_fixed_ip_to_instance(self, context, instance, network_id):
        """One more address from ``network_id`` on the instance's port there."""
        admin = self._admin()
        for port in self._instance_ports(instance):
            if port.network_id == network_id:
                ips = [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                       for f in port.fixed_ips]
                subnets = self.service.list_subnets(admin, network_id=network_id)
                if not subnets:
                    break
                self.service.update_port(admin, port.id,
                                         fixed_ips=[*ips, {"subnet_id": subnets[0].id}])
                return self.get_instance_nw_info(context, instance)
        raise exc.NetworkNotFound(net_id=network_id)

    def remove_fixed_ip_from_instance(self, context, instance, address):
        """Release ``address`` from the instance's port that has it."""
        admin = self._admin()
        for port in self._instance_ports(instance):
            kept = [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                    for f in port.fixed_ips if f.ip_address != str(address)]
            if len(kept) != len(port.fixed_ips):
                self.service.update_port(admin, port.id, fixed_ips=kept)
                return self.get_instance_nw_info(context, instance)
        raise exc.InvalidInput(field="address", reason=f"{address} is not on the instance")

    # -- ports -------------------------------------------------------------------

    def _port_doc(self, port: objects.Port) -> dict[str, Any]:
        return wire.to_wire(wire.PORT, port)

    def list_ports(self, context, **search_opts):
        """``{"ports": [...]}`` in Neutron's wire form, filtered as Neutron filters."""
        ctx = to_context(context)
        filters = {k.replace("binding:host_id", "binding_host_id"): v
                   for k, v in search_opts.items() if k != "fields"}
        return {"ports": [self._port_doc(p) for p in self.service.list_ports(ctx, **filters)]}

    def show_port(self, context, port_id):
        """``{"port": {...}}`` in Neutron's wire form."""
        return {"port": self._port_doc(self.service.get_port(to_context(context), port_id))}

    def unbind_ports(self, context, ports, detach=True):
        """Unbind the ports (shelve-offload): they keep their addresses.

        ``detach`` also lets go of them (attachment and device_id), as Nova
        does when an instance no longer holds them.
        """
        admin = self._admin()
        for port_id in ports:
            try:
                port = self.service.get_port(admin, port_id)
                for host, b in self._bindings(port_id).items():
                    if b.status != _ACTIVE:
                        self._delete_binding(port_id, host)
                if detach:
                    try:
                        self.service.get_attachment(admin, port_id)
                        self.service.detach_port(admin, port_id)
                    except exc.NotFound:
                        pass
                    port = self.service.get_port(admin, port_id)
                    if port.device_id:
                        self.service.update_port(admin, port_id, device_id="",
                                                 device_owner="")
                elif port.binding_host_id is not None:
                    self.service.update_port(admin, port_id, binding_host_id=None)
            except exc.PortNotFound:
                continue

    # -- bindings (live migration) -----------------------------------------------

    def bind_ports_to_host(self, context, instance, host, vnic_types=None,
                           port_profiles=None):
        """INACTIVE bindings on ``host`` for every port (database only), all or none.

        Returns ``{port_id: binding}`` as Neutron's documents. A binding that
        exists already is kept (a repeat).
        """
        ports = self._instance_ports(instance)
        profiles = {pid: dict(profile) for pid, profile in (port_profiles or {}).items()
                    if profile}
        made = self.service.create_port_bindings(self._admin(), [p.id for p in ports], host,
                                                 profiles=profiles)
        return {port_id: _binding_doc(binding) for port_id, binding in made.items()}

    def delete_port_binding(self, context, port_id, host):
        """Remove the port's binding on ``host``; a missing one is fine."""
        self._delete_binding(port_id, host)

    def activate_port_binding(self, context, port_id, host):
        """Make ``host``'s binding the port's ACTIVE one (a repeat is a no-op)."""
        b = self._bindings(port_id).get(host)
        if b is None:
            raise exc.PortBindingNotFound(port_id=port_id, host=host)
        if b.status != _ACTIVE:
            self.service.activate_port_binding(self._admin(), port_id, host)

    def setup_networks_on_host(self, context, instance, host=None, teardown=False):
        """Ready the instance's devices on ``host`` (default: the instance's), or remove them.

        Without teardown every port gets a binding on ``host`` (INACTIVE when
        it is active elsewhere) and, when ``host`` is this service's host, its
        devices are made now (Nova's ``pre_live_migration``); when the binding
        here is the ACTIVE one (after the move) this host's bridge also forgets
        the old path to the port's MAC. With teardown the
        non-active bindings on ``host`` are deleted (their devices with them);
        the ACTIVE binding is never torn down here.
        """
        host = host or _read(instance, "host")
        if not host:
            return
        ports = self._instance_ports(instance)
        all_bindings = self._bindings_of(ports)
        if teardown:
            for port in ports:
                b = all_bindings.get(port.id, {}).get(host)
                if b is not None and b.status != _ACTIVE:
                    self._delete_binding(port.id, host)
            return
        missing = [p.id for p in ports if host not in all_bindings.get(p.id, {})]
        if missing:  # all in one transaction
            self.service.create_port_bindings(self._admin(), missing, host)
        if host != self.service.host:
            return
        for port in ports:
            self.service.plug_port(port.id)
            if port.binding_host_id == host:
                # The guest runs here now (post_live_migration_at_destination):
                # forget the old path to its MAC rather than wait for it to speak.
                self.service.forget_moved_mac(port.id)

    def setup_instance_network_on_host(self, context, instance, host, migration=None,
                                       provider_mappings=None):
        """The ports follow the instance to ``host`` (evacuation, unshelve): database only."""
        self._activate_on(instance, host, drop_others=True)

    def cleanup_instance_network_on_host(self, context, instance, host):
        """Remove the instance's non-active bindings (and devices) on ``host``."""
        self.setup_networks_on_host(context, instance, host, teardown=True)

    def migrate_instance_start(self, context, instance, migration):
        """Live migration: the destination's binding becomes ACTIVE (the guest moves now)."""
        if _read(migration, "migration_type") == _LIVE or _read(migration,
                                                                "is_live_migration"):
            dest = _read(migration, "dest_compute")
            if dest:
                self._activate_on(instance, dest, drop_others=False)

    def migrate_instance_finish(self, context, instance, migration, provider_mappings):
        """Cold migration, resize or its revert: the ports are bound to ``dest_compute``
        only (it plugs them; the old host's devices go at its sync)."""
        dest = _read(migration, "dest_compute")
        if dest:
            self._activate_on(instance, dest, drop_others=True)

    # -- features the library does not have ----------------------------------------
    # Answered as Neutron answers without the extension: nothing to request,
    # no floating IPs, no segments, only "normal" vNICs.

    def has_port_binding_extension(self, context=None, client=None):
        return True

    def has_substr_port_filtering_extension(self, context=None, client=None):
        return False

    def has_extended_resource_request_extension(self, context=None, client=None):
        return False

    def instance_has_extended_resource_request(self, instance_uuid):
        return False

    def is_remote_managed_port(self, context, port_id):
        self.service.get_port(to_context(context), port_id)
        return False

    def get_requested_resource_for_instance(self, context, instance_uuid):
        return [], _nova_object("RequestLevelParams")

    def get_binding_profile_allocation(self, context, port_id, resource_provider_mapping):
        return None

    def create_resource_requests(self, context, requested_networks, pci_requests=None,
                                 affinity_policy=None):
        if not requested_networks or _read(requested_networks, "no_allocate", False):
            return None, [], None
        return (_nova_object("NetworkMetadata", physnets=set(), tunneled=False), [],
                _nova_object("RequestLevelParams"))

    def get_segment_ids_for_network(self, context, network_id):
        return []

    def get_segment_id_for_subnet(self, context, subnet_id):
        return None

    def get(self, context, network_uuid):
        """A network as Neutron's document."""
        net = self.service.get_network(to_context(context), network_uuid)
        return wire.to_wire(wire.NETWORK, net)

    def get_all(self, context):
        return [wire.to_wire(wire.NETWORK, n)
                for n in self.service.list_networks(to_context(context))]

    def get_floating_ip_pools(self, context):
        return []

    def get_floating_ips_by_project(self, context):
        return []

    def get_floating_ip(self, context, id):
        raise _floating_ip_not_found(id)

    def get_floating_ip_by_address(self, context, address):
        raise _floating_ip_not_found(address)

    def get_instance_id_by_floating_address(self, context, address):
        return None

    def allocate_floating_ip(self, context, pool=None):
        raise _no_floating_ips()

    def associate_floating_ip(self, context, instance, floating_address, fixed_address,
                              affect_auto_assigned=False):
        raise _floating_ip_not_found(floating_address)

    def disassociate_floating_ip(self, context, instance, address,
                                 affect_auto_assigned=False):
        raise _floating_ip_not_found(address)

    def disassociate_and_release_floating_ip(self, context, instance, floating_ip):
        raise _floating_ip_not_found(_read(floating_ip, "floating_ip_address", floating_ip))


def _nova_object(name: str, **fields: Any) -> Any:
    """``nova.objects.<name>(**fields)`` when Nova is importable, else None."""
    try:
        from nova import objects as nova_objects
    except ImportError:
        return None
    nova_objects.register_all()
    return getattr(nova_objects, name)(**fields)


def _floating_ip_not_found(what: Any) -> Exception:
    try:
        from nova import exception as nova_exc
    except ImportError:
        return exc.NotFound(f"Floating IP {what} not found (no floating IPs here).")
    return nova_exc.FloatingIpNotFound(id=what)


def _no_floating_ips() -> Exception:
    try:
        from nova import exception as nova_exc
    except ImportError:
        return exc.NotFound("No floating IP pools (the l3 extension is absent).")
    return nova_exc.NoMoreFloatingIps()


def _binding_doc(b: objects.PortBinding) -> dict[str, Any]:
    doc = b.to_dict()
    return {"host": doc["host"], "vif_type": doc["vif_type"], "vif_details": doc["vif_details"],
            "profile": doc["profile"], "vnic_type": network_info.VNIC_TYPE_NORMAL,
            "status": doc["status"]}


__all__ = ["API", "hydrate", "set_default_service", "to_context"]
