"""Builds the parts of a service and wires them: who is handed what is visible here."""

from __future__ import annotations

import dataclasses
from typing import Any

from oslo_config import cfg

from naas_lib import conf as naas_conf
from naas_lib.db import api as db_api
from naas_lib.drivers import base as driver_base
from naas_lib.drivers import manager as driver_manager
from naas_lib.network_types.manager import TypeManager
from naas_lib.resources.attaching import AttachmentRecorder
from naas_lib.resources.attachments import Attachments
from naas_lib.resources.binding import Binder
from naas_lib.resources.core import Core, Hooks
from naas_lib.resources.higher_layer import HigherLayerServices
from naas_lib.resources.hosts import Hosts
from naas_lib.resources.lifecycle import Lifecycle
from naas_lib.resources.networks import Networks
from naas_lib.resources.plugging import Plugging
from naas_lib.resources.port_bindings import PortBindings
from naas_lib.resources.port_security import (
    MembersOfDeletedNetworks,
    PortSecurityFields,
    SecurityHostSide,
)
from naas_lib.resources.ports import Ports
from naas_lib.resources.security_groups import SecurityGroups
from naas_lib.resources.subnets import Subnets
from naas_lib.resources.sync import Sync


@dataclasses.dataclass
class Parts:
    """The resources of one service, each built with its dependencies handed in."""

    core: Core
    lifecycle: Lifecycle
    plugging: Plugging
    hosts: Hosts
    binder: Binder
    networks: Networks
    subnets: Subnets
    ports: Ports
    port_bindings: PortBindings
    attachments: Attachments
    sync: Sync
    services: HigherLayerServices
    security_groups: SecurityGroups


def assemble(conf: cfg.ConfigOpts, driver_cls: type[driver_base.Driver] | None = None,
             hooks: Hooks | None = None, trigger: Any = None) -> Parts:
    """Build every part from ``conf`` without I/O on the database.

    ``trigger`` is what event callbacks receive as the service (the facade).
    """
    naas_conf.register_opts(conf)
    host = conf.host or None
    db = db_api.Database(conf.database.connection or db_api.default_url())
    types = TypeManager(conf[naas_conf.NETWORK_GROUP])
    driver = driver_manager.build_driver(conf, conf.driver, host, driver_cls)
    core = Core(conf, db, driver, types, hooks)
    if trigger is not None:
        core.trigger = trigger
    lifecycle = Lifecycle(core)
    plugging = Plugging(core)
    hosts = Hosts(core)
    binder = Binder(core, hosts)
    recorder = AttachmentRecorder(core, binder, plugging)
    networks = Networks(core, lifecycle, plugging)
    ports = Ports(core, lifecycle, networks, binder, recorder, plugging)
    security_groups, security_host = _port_security(core, lifecycle, plugging, ports)
    return Parts(
        core=core, lifecycle=lifecycle, plugging=plugging, hosts=hosts, binder=binder,
        networks=networks, subnets=Subnets(core, lifecycle, networks, plugging), ports=ports,
        port_bindings=PortBindings(core, lifecycle, ports, binder, plugging),
        attachments=Attachments(core, lifecycle, ports, binder, recorder, plugging),
        sync=Sync(core, hosts, plugging), services=HigherLayerServices(core, networks),
        security_groups=security_groups)


def _port_security(core: Core, lifecycle: Lifecycle, plugging: Plugging, ports: Ports
                   ) -> tuple[SecurityGroups, SecurityHostSide]:
    """Security groups, the ports' security fields and what this host's driver is told."""
    host_side = SecurityHostSide(core)
    groups = SecurityGroups(core, lifecycle, changed=host_side.rules_changed)
    ports.security = PortSecurityFields(core, groups)
    ports.security_host = host_side
    plugging.before_plug.append(host_side)
    ports.networks.delete_hooks.append(MembersOfDeletedNetworks(core, host_side))
    ports.networks.create_hooks.append(groups)
    return groups, host_side
