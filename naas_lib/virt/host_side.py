"""Plug and unplug ports on this host through the service's own driver.

Shared by the provisioner's ``plug_vifs``/``unplug_vifs`` and the os-vif
plugin: both identify a VIF by its port id (Nova's convention) and both are
idempotent, because the driver's ``plug``/``unplug`` are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from naas_lib import constants, objects
from naas_lib import exceptions as exc
from naas_lib.context import get_admin_context
from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)


def load_bound(service: NetworkService,
               port_ids: Iterable[str]) -> list[tuple[objects.Port, objects.Network]]:
    """The named ports that still exist, with their networks, in the order given."""
    ids = list(dict.fromkeys(port_ids))
    if not ids:
        return []
    admin = get_admin_context()
    ports = {p.id: p for p in service.list_ports(admin, id=ids)}
    nets = {n.id: n for n in service.list_networks(
        admin, id=sorted({p.network_id for p in ports.values()}))}
    return [(ports[i], nets[ports[i].network_id]) for i in ids if i in ports]


def plug(service: NetworkService, port_ids: Iterable[str]) -> list[objects.Port]:
    """Make the devices of ports bound to this service's host; ACTIVE on return.

    A port bound to another host is refused with BindingFailed (only its own
    host may plug it); an unknown port raises PortNotFound.
    """
    ids = list(port_ids)
    bound = load_bound(service, ids)
    known = {p.id for p, _ in bound}
    for port_id in ids:
        if port_id not in known:
            raise exc.PortNotFound(port_id=port_id)
    return service.plug_ports(bound)  # together: one port-security change for them all


def unplug(service: NetworkService, port_ids: Iterable[str]) -> list[str]:
    """Remove the devices of the named ports from this host; returns the ports handled.

    Ports that no longer exist are skipped (deleting a port unplugged it
    already); ports still bound here are recorded DOWN.
    """
    bound = load_bound(service, port_ids)
    if not bound:
        return []
    service.unplug_ports(bound)
    for port, _ in bound:
        if port.binding_host_id == service.host and port.status != constants.PORT_STATUS_DOWN:
            try:
                service.set_port_status(port.id, constants.PORT_STATUS_DOWN)
            except exc.PortNotFound:
                continue  # deleted meanwhile: nothing to record
    return [p.id for p, _ in bound]
