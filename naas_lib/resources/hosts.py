"""The hosts table: each host records itself and beats; binding reads what others recorded.

A service built with ``host=H`` records H when it starts: its VXLAN
endpoint, driver name and what the driver can realize.
:meth:`Hosts.heartbeat` refreshes ``heartbeat_at``; a host whose heartbeat is
older than ``[hosts] host_down_time`` is treated as gone (other hosts drop
their forwarding entries towards it).
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants, objects, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import models
from naas_lib.drivers import base as driver_base
from naas_lib.network_types.manager import TypeManager
from naas_lib.resources.core import Core

LOG = logging.getLogger(__name__)
_hosts = models.Host.__table__

#: Keys added to a host's recorded capabilities besides ``Capabilities.to_dict()``.
REFUSALS_KEY = "refusals"
PHYSNETS_KEY = "physical_networks"


# -- what a host records about itself ------------------------------------------


def _probe_network(network_type: str, seg: int | None) -> objects.Network:
    """A stand-in network of one type, to ask a driver "could you realize this?"."""
    now = models.utcnow()
    return objects.Network(
        id="probe", project_id="", name="", description="", admin_state_up=True,
        status=constants.NET_STATUS_ACTIVE, shared=False, mtu=constants.MIN_MTU_IPV4,
        network_type=network_type, segmentation_id=seg, physical_network=None, subnets=(),
        revision_number=1, created_at=now, updated_at=now)


def host_capabilities(driver: driver_base.Driver, types: TypeManager) -> dict[str, Any]:
    """What other processes need to decide bindings for this host, as JSON-able data.

    ``describe()`` plus, per network type the driver refuses, its own reason
    (which names the missing option, e.g. the VXLAN endpoint), and the
    physical networks the host is wired to when the driver restricts them.
    Flat networks depend on the physical network, so they are not probed.
    """
    caps = driver.describe().to_dict()
    refusals = {}
    for network_type, net_type in types.types.items():
        if net_type.needs_physical_network and not net_type.has_segmentation_id:
            continue
        try:
            reason = driver.check_network(_probe_network(network_type,
                                                         net_type.probe_segmentation_id()))
        except Exception as e:  # a driver that cannot answer refuses
            reason = f"{type(e).__name__}: {e}"
        if reason is not None:
            refusals[network_type] = reason
    caps[REFUSALS_KEY] = refusals
    physnets = driver.physical_networks()
    if physnets is not None:
        caps[PHYSNETS_KEY] = sorted(physnets)
    return caps


def host_obj(row: Any, alive: bool) -> objects.Host:
    return objects.Host(name=row.name, vxlan_endpoint=row.vxlan_endpoint, driver=row.driver,
                        capabilities=json.loads(row.capabilities or "{}"),
                        heartbeat_at=row.heartbeat_at, alive=alive)


# -- the registry -------------------------------------------------------------------


class Hosts:
    """The hosts table: this host's record and heartbeat, and the others' as recorded."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def host_down_time(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.core.host_down_time)

    def alive_since(self) -> datetime.datetime:
        """Hosts with a heartbeat at or after this instant are alive."""
        return models.utcnow() - self.host_down_time()

    def register_host(self) -> objects.Host | None:
        """Record this host (endpoint, driver, capabilities) and beat once.

        An upsert without row locks: update the row, insert it when missing,
        and when a concurrent start inserted it first (the primary key says
        so) run again, which then updates.
        """
        if not self.core.host:
            return None
        driver = self.core.driver
        caps = host_capabilities(driver, self.core.types)
        values = {"vxlan_endpoint": driver.endpoint(), "driver": driver.name,
                  "capabilities": json.dumps(caps, sort_keys=True)}

        def txn() -> None:
            with self.core.db.writer() as session:
                now = models.utcnow()
                count = session.execute(sa.update(_hosts).where(_hosts.c.name == self.core.host)
                                        .values(heartbeat_at=now, **values)).rowcount
                if count:
                    return
                try:
                    session.execute(sa.insert(_hosts), [{"name": self.core.host,
                                                         "heartbeat_at": now, **values}])
                except db_exc.DBDuplicateEntry as e:
                    raise db_exc.RetryRequest(e) from e

        self.core.retrying(txn)()
        self.core.registered_capabilities = json.loads(values["capabilities"])
        LOG.info("Host %s registered (driver %s, endpoint %s)", self.core.host, values["driver"],
                 values["vxlan_endpoint"])
        return self._get_host(self.core.host)

    def heartbeat(self) -> None:
        """Tell the others this host is alive; re-register if its row was removed."""
        if not self.core.host:
            return

        def txn() -> int:
            with self.core.db.writer() as session:
                return session.execute(sa.update(_hosts).where(_hosts.c.name == self.core.host)
                                       .values(heartbeat_at=models.utcnow())).rowcount

        if not self.core.retrying(txn)():
            self.register_host()

    def recorded(self, session: orm.Session, name: str) -> objects.Host | None:
        """What ``name`` recorded about itself, or None for a host that never registered."""
        row = session.get(models.Host, name)
        if row is None:
            return None
        return host_obj(row, row.heartbeat_at >= self.alive_since())

    def _get_host(self, name: str) -> objects.Host | None:
        if not isinstance(name, str):
            return None
        validation.lookup("name", name)
        with self.core.db.reader() as session:
            return self.recorded(session, name)

    def get_host(self, context: RequestContext, name: str) -> objects.Host:
        """One recorded host (admin only)."""
        self.core.enforce(context, "context_is_admin", {})
        host = self._get_host(name)
        if host is None:
            raise exc.HostNotFound(host=name)
        return host

    def list_hosts(self, context: RequestContext,
                   alive: bool | None = None) -> list[objects.Host]:
        """Recorded hosts by name (admin only); ``alive`` filters on heartbeat freshness."""
        self.core.enforce(context, "context_is_admin", {})
        since = self.alive_since()
        with self.core.db.reader() as session:
            rows = list(session.scalars(sa.select(models.Host).order_by(models.Host.name)))
            hosts = [host_obj(r, r.heartbeat_at >= since) for r in rows]
        return [h for h in hosts if alive is None or h.alive == alive]

