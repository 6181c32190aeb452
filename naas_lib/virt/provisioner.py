"""Boot-time provisioning of an instance's NICs, all of them or none.

Nova's compute manager and virt driver call a :class:`Provisioner` in-process
on compute host H (its service is built with ``host=H``). For one instance
:meth:`Provisioner.allocate_for_instance` creates the ports it needs in one
transaction, attaches and binds every port to H (which plugs them when H is
this service's host) and returns the network info Nova's virt drivers read.
Any failure undoes everything the call did, so a failed boot leaks nothing:
the long-standing complaint about Nova with Neutron.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.service import NetworkService
from naas_lib.virt import host_side, network_info

LOG = logging.getLogger(__name__)

#: Attempts at creating one port when every retry of the service lost a race.
_CREATE_ATTEMPTS = 3

#: Port attributes restored on a pre-existing port when a boot is undone.
_RESTORED = ("device_id", "device_owner", "binding_profile", "binding_host_id")


@dataclasses.dataclass(frozen=True)
class NicRequest:
    """One requested NIC: a network, an existing port, or a network plus IP and/or MAC.

    ``binding_profile`` (an extension of Nova's request) is stored on the
    port; ``{"netns": NAME, "ifname": "eth0", "configure_ip": true}`` makes
    the linuxbridge driver put the guest end in a network namespace.
    """

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    mac_address: str | None = None
    binding_profile: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class InstanceRef:
    """What the provisioner needs of an instance: uuid, name and project."""

    uuid: str
    name: str
    project_id: str

    @classmethod
    def of(cls, instance: Any) -> InstanceRef:
        """Accept a Nova ``Instance``, any object with those attributes, or a mapping."""
        def read(name: str) -> Any:
            if isinstance(instance, Mapping):
                return instance.get(name)
            return getattr(instance, name, None)

        uuid, project = read("uuid"), read("project_id")
        if not uuid or not isinstance(uuid, str):
            raise exc.InvalidInput(field="instance.uuid", reason="required")
        if not project or not isinstance(project, str):
            raise exc.InvalidInput(field="instance.project_id", reason="required")
        return cls(uuid=uuid, name=str(read("name") or ""), project_id=project)


@dataclasses.dataclass
class _Nic:
    """The plan and the progress of one NIC, so that it can be undone."""

    index: int
    request: NicRequest
    port: objects.Port | None = None  # current view of the port
    before: objects.Port | None = None  # a pre-existing port as it was
    created: bool = False
    attached: bool = False

    @property
    def port_id(self) -> str:
        assert self.port is not None
        return self.port.id


class _NicError(Exception):
    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(index, cause)
        self.index = index
        self.cause = cause


def _well_formed(network_id: Any) -> bool:
    """Whether ``network_id`` could name a network (anything else is "not found")."""
    try:
        validation.uuid_str("network_id", network_id)
    except exc.InvalidInput:
        return False
    return True


def _reason(e: BaseException) -> str:
    return getattr(e, "message", None) or f"{type(e).__name__}: {e}"


class Provisioner:
    """Nova's view of naas_lib on one compute host."""

    def __init__(self, service: NetworkService, poll_interval: float = 0.05) -> None:
        self.service = service
        self.poll_interval = poll_interval

    # -- allocate --------------------------------------------------------------

    def allocate_for_instance(
        self,
        context: RequestContext,
        instance: Any,
        requested_nics: Sequence[NicRequest],
        host: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create, attach, bind (and on this host plug) every NIC; network info in NIC order.

        The caller's ``context`` decides what it may see (another project's
        network or port is "not found"); the writes run elevated, as Nova's
        compute host does its port bindings. On any failure everything this
        call did is undone and :class:`~naas_lib.exceptions.NicAllocationFailed`
        names the NIC index and reason, chained to the cause.
        """
        inst = InstanceRef.of(instance)
        host = host or self.service.host
        if not host:
            raise exc.InvalidInput(field="host", reason="required (the service has none)")
        admin = context.elevated()
        nics = [_Nic(i, self._checked_request(r)) for i, r in enumerate(requested_nics)]
        try:
            networks = self._resolve(context, admin, inst, nics)
            made, created_on = self._create_new_ports(context, admin, inst, nics, host)
            networks = {**networks, **created_on}
            ahead = made.plug_ahead if made is not None else None
            run: list[_Nic] = []  # consecutive new NICs: plugged together, in NIC order
            for nic in nics:
                if nic.created:
                    run.append(nic)
                    continue
                self._plug_created(run, networks, host, ahead)
                run, ahead = [], None
                self._attach(admin, inst, nic, host)
            self._plug_created(run, networks, host, ahead)
            return self._network_info(admin, nics, networks, made)
        except _NicError as e:
            self._undo(admin, nics)
            err = exc.NicAllocationFailed(index=e.index, reason=_reason(e.cause),
                                          instance_id=inst.uuid)
            err.kind = getattr(e.cause, "kind", err.kind)
            raise err from e.cause
        except BaseException:
            self._undo(admin, nics)
            raise

    @staticmethod
    def _checked_request(request: Any) -> NicRequest:
        if isinstance(request, NicRequest):
            return request
        if isinstance(request, Mapping):
            try:
                return NicRequest(**request)
            except TypeError as e:
                raise exc.InvalidInput(field="requested_nics", reason=str(e)) from None
        raise exc.InvalidInput(field="requested_nics", reason=f"{request!r} is not a NIC request")

    def _resolve(self, context: RequestContext, admin: RequestContext, inst: InstanceRef,
                 nics: list[_Nic]) -> dict[str, objects.Network]:
        """Check every request against what the caller may see, before writing anything.

        Returns the requested networks (reused for the network info). When
        every NIC asks for a new port, the networks are checked (for the
        caller) and read by the transaction that creates the ports instead.
        """
        all_new = all(n.request.port_id is None and n.request.network_id is not None
                      for n in nics)
        wanted = [] if all_new else sorted(
            {n.request.network_id for n in nics if n.request.port_id is None
             and isinstance(n.request.network_id, str)})
        networks = self.service.get_networks(context, wanted) if wanted else []
        visible = {n.id for n in networks}
        seen_ports: set[str] = set()
        for nic in nics:
            r = nic.request
            try:
                if r.port_id is not None:
                    if r.fixed_ip is not None or r.mac_address is not None:
                        raise exc.InvalidInput(field="fixed_ip/mac_address",
                                               reason="not allowed with an existing port")
                    if r.port_id in seen_ports:
                        raise exc.InvalidInput(field="port_id",
                                               reason=f"port {r.port_id} requested twice")
                    seen_ports.add(r.port_id)
                    port = self.service.get_port(context, r.port_id)
                    if r.network_id is not None and r.network_id != port.network_id:
                        raise exc.InvalidInput(
                            field="network_id",
                            reason=f"port {port.id} is on network {port.network_id}")
                    if port.device_id and port.device_id != inst.uuid:
                        raise exc.PortInUse(port_id=port.id, interface_id=port.device_id)
                    nic.port = nic.before = port
                elif r.network_id is not None:
                    if not all_new and r.network_id not in visible or \
                            not _well_formed(r.network_id):
                        raise exc.NetworkNotFound(net_id=r.network_id)
                else:
                    raise exc.InvalidInput(field="requested_nics",
                                           reason="a NIC needs a network_id or a port_id")
            except exc.NaasError as e:
                raise _NicError(nic.index, e) from e
        return {n.id: n for n in networks}

    def _port_attrs(self, inst: InstanceRef, nic: _Nic) -> dict[str, Any]:
        r = nic.request
        attrs: dict[str, Any] = {
            "network_id": r.network_id, "project_id": inst.project_id,
            "device_id": inst.uuid, "device_owner": constants.DEVICE_OWNER_COMPUTE,
            "name": f"{inst.name}-nic{nic.index}" if inst.name else "",
        }
        if r.fixed_ip is not None:
            attrs["fixed_ips"] = [{"ip_address": r.fixed_ip}]
        if r.mac_address is not None:
            attrs["mac_address"] = r.mac_address
        if r.binding_profile is not None:
            attrs["binding_profile"] = dict(r.binding_profile)
        return attrs

    def _create_new_ports(self, context: RequestContext, admin: RequestContext,
                          inst: InstanceRef, nics: list[_Nic], host: str
                          ) -> tuple[objects.InstancePorts | None, dict[str, objects.Network]]:
        """All new ports, attached and bound, in one transaction; what it returned
        (None after the one-by-one fallback) and the new ports' networks.

        Created and attached together, a port the provisioner made is never
        left unattached (and so unknown to ``deallocate_for_instance``) by a
        process that dies between the two. The networks are checked for the
        caller (``context``) in that transaction. On failure, one by one to
        name the culprit.
        """
        new = [n for n in nics if n.request.port_id is None]
        if not new:
            return None, {}
        attrs = [self._port_attrs(inst, n) for n in new]
        specs = [{"instance_id": inst.uuid, "host": host} for _ in attrs]
        try:
            made = self.service.create_instance_ports(admin, attrs, specs, caller=context)
        except exc.NetworkNotFound as e:
            # Nothing was written: name the first NIC asking for that network.
            missing = e.kwargs.get("net_id")
            nic = next((n for n in new if n.request.network_id == missing), new[0])
            raise _NicError(nic.index, e) from e
        except exc.NaasError as bulk_error:
            LOG.debug("Bulk port creation for %s failed (%s); creating one by one",
                      inst.uuid, bulk_error)
        else:
            for nic, port in zip(new, made.ports, strict=True):
                nic.port, nic.created, nic.attached = port, True, True
            return made, dict(made.networks)
        networks: dict[str, objects.Network] = {}
        for nic, a, spec in zip(new, attrs, specs, strict=True):
            for attempt in range(1, _CREATE_ATTEMPTS + 1):
                try:
                    one = self.service.create_instance_ports(admin, [a], [spec], caller=context)
                    nic.port, nic.attached = one.ports[0], True
                    networks.update(one.networks)
                    break
                except exc.ConcurrentModification as e:
                    # The service's own retries lost every race for an address or
                    # MAC; a fresh attempt after a pause usually wins.
                    if attempt == _CREATE_ATTEMPTS:
                        raise _NicError(nic.index, e) from e
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
                except exc.NaasError as e:
                    raise _NicError(nic.index, e) from e
            nic.created = True
        return None, networks

    def _plug_created(self, nics: list[_Nic], networks: dict[str, objects.Network],
                      host: str, ahead: Any = None) -> None:
        """Plug new ports (attached and bound with their creation) if ``host`` is ours.

        Fed from what the create transaction returned (``ahead``: what it read
        for the plug), nothing is read again; their statuses are written in
        one transaction for all of them.
        """
        todo = [n for n in nics if n.created]
        if not todo or host != self.service.host:
            return
        try:
            plugged = self.service.plug_ports(
                [(n.port, networks[n.port.network_id]) for n in todo], ahead=ahead)
        except Exception as e:
            failed = getattr(e, "kwargs", {}).get("port_id")
            index = next((n.index for n in todo if n.port_id == failed), todo[0].index)
            if isinstance(e, exc.NaasError):
                raise _NicError(index, e) from e
            raise _NicError(index, exc.DriverError(driver=self.service.driver_name,
                                                   reason=_reason(e))) from e
        for nic, port in zip(todo, plugged, strict=True):
            nic.port = port

    def _attach(self, admin: RequestContext, inst: InstanceRef, nic: _Nic, host: str) -> None:
        """Attach (and on this host plug) a pre-existing port."""
        port_id = nic.port_id
        try:
            if nic.request.binding_profile is not None:
                self.service.update_port(admin, port_id,
                                         binding_profile=dict(nic.request.binding_profile))
            self.service.attach_port(admin, port_id, interface_id=port_id,
                                     instance_id=inst.uuid, host=host, owns_port=nic.created)
            nic.attached = True
        except BaseException as e:
            # A plug failure (or an interrupt) comes after the attachment was committed.
            nic.attached = self._attached_by(admin, port_id, inst.uuid)
            if not isinstance(e, Exception):
                raise
            if isinstance(e, exc.NaasError):
                raise _NicError(nic.index, e) from e
            raise _NicError(nic.index, exc.DriverError(driver=self.service.driver_name,
                                                       reason=_reason(e))) from e

    def _attached_by(self, admin: RequestContext, port_id: str, instance_id: str) -> bool:
        try:
            att = self.service.get_attachment(admin, port_id)
        except exc.NotFound:
            return False
        return att.instance_id == instance_id and att.interface_id == port_id

    def _network_info(self, admin: RequestContext, nics: list[_Nic],
                      networks: dict[str, objects.Network],
                      made: objects.InstancePorts | None) -> list[dict[str, Any]]:
        if not nics:
            return []
        # A port this call created is as its create (and plug) returned it;
        # only pre-existing ports, changed by attach_port, are read again.
        ports = {n.port_id: n.port for n in nics if n.created}
        reread = [n.port_id for n in nics if not n.created]
        if reread:
            ports.update((p.id, p) for p in self.service.list_ports(admin, id=reread))
        net_ids = sorted({p.network_id for p in ports.values()})
        nets = dict(networks)
        missing = [i for i in net_ids if i not in nets]
        if missing:
            nets.update((n.id, n) for n in self.service.list_networks(admin, id=missing))
        hosts = sorted({p.binding_host_id for p in ports.values() if p.binding_host_id})
        if made is not None and set(net_ids) <= made.networks.keys() and \
                set(hosts) <= {p.binding_host_id for p in made.ports}:
            # Every NIC new: read by the transaction that created them.
            subnets, reserved, caps = (dict(made.subnets), dict(made.dhcp_reserved),
                                       dict(made.host_capabilities))
        else:
            # Subnets, DHCP reservation ports and host capabilities: one read transaction.
            subnets, reserved, caps = self.service.network_info_sources(net_ids, hosts)
        servers = {p.id: network_info.dhcp_servers(
            caps.get(p.binding_host_id, {}) if p.binding_host_id else None, reserved)
            for p in ports.values()}
        return [
            network_info.vif_info(ports[n.port_id], nets[ports[n.port_id].network_id],
                                  subnets.get(ports[n.port_id].network_id, []),
                                  preserve_on_delete=not n.created,
                                  dhcp_servers=servers.get(n.port_id))
            for n in nics
        ]

    # -- undo ------------------------------------------------------------------

    def _undo(self, admin: RequestContext, nics: list[_Nic]) -> None:
        """Reverse a partial allocation, last NIC first; keep going past failures."""
        for nic in reversed(nics):
            if nic.port is None:
                continue
            try:
                if nic.attached:
                    self.service.detach_port(admin, nic.port_id)
                if nic.created:
                    self.service.delete_port(admin, nic.port_id)
                elif nic.before is not None:
                    self._restore(admin, nic.before)
            except Exception:
                LOG.exception("Undoing NIC %s (port %s) failed", nic.index, nic.port_id)

    def _restore(self, admin: RequestContext, before: objects.Port) -> None:
        """Put a pre-existing port back as the caller gave it (binding included)."""
        now = self.service.get_port(admin, before.id)
        changes = {k: getattr(before, k) for k in _RESTORED
                   if getattr(now, k) != getattr(before, k)}
        if "binding_profile" in changes:
            changes["binding_profile"] = dict(before.binding_profile)
        if changes:
            now = self.service.update_port(admin, before.id, **changes)
        if (now.status, now.status_reason) != (before.status, before.status_reason):
            self.service.set_port_status(before.id, before.status, before.status_reason)

    # -- deallocate ------------------------------------------------------------

    def deallocate_for_instance(self, context: RequestContext, instance: Any) -> list[str]:
        """Detach every port of the instance, delete those it created; idempotent.

        Detaching unplugs the ports bound to this service's host. Returns the
        ids of the ports released (empty on a repeat).
        """
        inst = InstanceRef.of(instance)
        admin = context.elevated()
        released = []
        # The ports are deleted while the kernel removes their devices (the
        # block ends when both are done).
        with self.service.unplugs_in_background():
            detached = None
            try:
                # One transaction finds and detaches them all (their devices
                # removed in one batch), one deletes the instance's own ports.
                detached = self.service.detach_instance(admin, inst.uuid)
                self.service.delete_ports(admin, [att.port_id for att in detached
                                                  if att.owns_port])
                return [att.port_id for att in detached]
            except exc.PortNotFound:
                pass  # a concurrent deallocation: one by one, skipping what is gone
            attachments = detached if detached is not None else \
                self.service.list_attachments(admin, instance_id=inst.uuid)
            for att in attachments:
                try:
                    self.service.detach_port(admin, att.port_id)
                    if att.owns_port:
                        self.service.delete_port(admin, att.port_id)
                except exc.PortNotFound:
                    continue  # a concurrent deallocation got there first
                released.append(att.port_id)
        return released

    # -- host side -------------------------------------------------------------

    def plug_vifs(self, instance: Any, network_info_list: Sequence[Mapping[str, Any]]) -> None:
        """Make every VIF's devices on this host (idempotent); ports become ACTIVE."""
        host_side.plug(self.service, [vif["id"] for vif in network_info_list])

    def unplug_vifs(self, instance: Any,
                    network_info_list: Sequence[Mapping[str, Any]]) -> None:
        """Remove every VIF's devices from this host (idempotent); ports become DOWN."""
        host_side.unplug(self.service, [vif["id"] for vif in network_info_list])

    # -- waiting ---------------------------------------------------------------

    def wait_for_active(self, context: RequestContext, port_ids: Sequence[str],
                        timeout: float) -> None:
        """Return once every port is ACTIVE; else PortsNotActive names the others.

        This is what Nova's "network-vif-plugged" wait is for; the state is in
        the shared database, so no remote service is asked.
        """
        admin = context.elevated()
        wanted = list(dict.fromkeys(port_ids))
        deadline = time.monotonic() + timeout
        delay = self.poll_interval
        while True:
            ports = {p.id: p for p in self.service.list_ports(admin, id=wanted)} if wanted else {}
            pending = {
                pid: ((ports[pid].status, ports[pid].status_reason) if pid in ports
                      else ("MISSING", "port does not exist"))
                for pid in wanted
                if pid not in ports or ports[pid].status != constants.PORT_STATUS_ACTIVE
            }
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise exc.PortsNotActive(ports=pending, timeout=timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 1.0)
