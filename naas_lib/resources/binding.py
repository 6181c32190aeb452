"""Binding: which host's driver chooses a port's VIF type and details (database only).

This service's own driver decides for its own host and for hosts that never
registered (a deployment without host records binds as before); any other
host is decided from what it recorded: its capabilities and its driver
class, whose ``bind_port`` is pure (a class-level call: nothing is built).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from naas_lib import constants, objects
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.drivers import base as driver_base
from naas_lib.drivers import manager as driver_manager
from naas_lib.resources.core import Core
from naas_lib.resources.hosts import PHYSNETS_KEY, REFUSALS_KEY, Hosts

_bindings = models.PortBinding.__table__

#: The port columns of a port with no binding (its binding row is reset by ``unbind``).
UNBOUND_VALUES: Mapping[str, Any] = {"status": constants.PORT_STATUS_DOWN, "status_reason": None}

BINDING_ACTIVE = "ACTIVE"
_PS = sa.bindparam("ps", expanding=True)
_DROP_INACTIVE_OF = sa.delete(_bindings).where(_bindings.c.port_id.in_(_PS),
                                              _bindings.c.active.is_(None))
_UNBIND_ACTIVE_OF = sa.update(_bindings).where(
    _bindings.c.port_id.in_(_PS), _bindings.c.active.is_(True)).values(
    host="", vif_type=constants.VIF_TYPE_UNBOUND, vif_details="{}")
#: The ACTIVE binding of port ``p`` bound to host ``h`` (VIF type ``t``, details ``d``).
_BIND_ACTIVE = sa.update(_bindings).where(
    _bindings.c.port_id == sa.bindparam("p"), _bindings.c.active.is_(True)).values(
    host=sa.bindparam("h"), vif_type=sa.bindparam("t"), vif_details=sa.bindparam("d"))
BINDING_INACTIVE = "INACTIVE"


class RecordedHost:
    """Binding decisions for a host from its row in the hosts table."""

    def __init__(self, host: objects.Host) -> None:
        self.host = host
        self.name = host.driver or "unknown"
        caps = dict(host.capabilities)
        self.capabilities = driver_base.Capabilities.from_dict(caps)
        self.refusals: Mapping[str, str] = caps.get(REFUSALS_KEY) or {}
        physnets = caps.get(PHYSNETS_KEY)
        self.physical_networks = None if physnets is None else set(physnets)

    def check_network(self, network: objects.Network) -> str | None:
        """None when the host can realize ``network``, else why not."""
        where = f"host {self.host.name} (driver {self.name})"
        refused = self.refusals.get(network.network_type)
        if refused:
            return f"{where}: {refused}"
        reason = self.capabilities.why_not(network_type=network.network_type, mtu=network.mtu)
        if reason is not None:
            return f"{where}: {reason}"
        if network.network_type == constants.TYPE_VXLAN and not self.host.vxlan_endpoint:
            return f"{where}: no VXLAN endpoint address is configured"
        if (network.physical_network is not None and self.physical_networks is not None
                and network.physical_network not in self.physical_networks):
            return (f"{where}: physical network {network.physical_network} is not mapped "
                    f"(mapped: {', '.join(sorted(self.physical_networks)) or 'none'})")
        return None

    def bind_port(self, port: objects.Port, network: objects.Network) -> driver_base.Binding:
        if not self.host.driver:
            raise exc.BindingFailed(port_id=port.id, host=self.host.name,
                                    reason="the host recorded no driver")
        try:
            cls = driver_manager.load_driver_class(self.host.driver)
        except exc.DriverNotFound as e:
            raise exc.BindingFailed(port_id=port.id, host=self.host.name,
                                    reason=e.message) from e
        return driver_manager.bind_for_host(cls, port, network, self.host.name)


def _port_security_refusal(binder: Any, port: objects.Port) -> str | None:
    """Why ``binder``'s host cannot take a port that needs port security, else None."""
    if not port.port_security_enabled:
        return None
    caps = binder.capabilities if isinstance(binder, RecordedHost) else binder.describe()
    if caps.port_security:
        return None
    return (f"port security is enabled on the port but driver {binder.name} does not "
            "enforce it on this host (see its log for the setting needed)")


class Binder:
    """Binds and unbinds ports inside the caller's transaction."""

    def __init__(self, core: Core, hosts: Hosts) -> None:
        self.core = core
        self.hosts = hosts

    def binding_driver(self, session: orm.Session, host: str) -> Any:
        """Who decides bindings for ``host`` (see the module docstring)."""
        if host == self.core.host:
            return self.core.driver
        recorded = self.hosts.recorded(session, host)
        return self.core.driver if recorded is None else RecordedHost(recorded)

    def bind(self, session: orm.Session, port: objects.Port, network: objects.Network,
             host: str, new_port: bool = False) -> objects.Port:
        """Let the host's driver choose VIF type and details; the port as bound.

        ``new_port``: inserted in this transaction, it has no INACTIVE binding.
        """
        binding = self.choose(session, port, network, host)
        details = json.dumps(dict(binding.vif_details))
        if not new_port:
            # The host's INACTIVE binding (if any) is replaced by the active one.
            session.execute(sa.delete(_bindings).where(
                _bindings.c.port_id == port.id, _bindings.c.host == host,
                _bindings.c.active.is_(None)))
        session.execute(sa.update(_bindings).where(
            _bindings.c.port_id == port.id, _bindings.c.active.is_(True)).values(
            host=host, vif_type=binding.vif_type, vif_details=details))
        return port.replace(binding_host_id=host, binding_vif_type=binding.vif_type,
                            binding_vif_details=dict(binding.vif_details), status_reason=None)

    def bind_new(self, session: orm.Session,
                 items: list[tuple[objects.Port, objects.Network, str]]) -> list[objects.Port]:
        """Bind ports inserted in this transaction, each to its host, in one statement.

        The same choice as :meth:`bind` (the host's driver decides, a refusal is
        BindingFailed); the ports as bound, in the order given.
        """
        bound, rows = [], []
        for port, network, host in items:
            values = self.chosen(session, port, network, host)
            rows.append({"p": port.id, "h": host, "t": values["vif_type"],
                         "d": values["vif_details"]})
            bound.append(self.as_bound(port, values))
        if rows:
            session.connection().execute(_BIND_ACTIVE, rows)
        return bound

    def chosen(self, session: orm.Session, port: objects.Port, network: objects.Network,
               host: str) -> dict[str, Any]:
        """The binding columns (host, VIF type, JSON details) :meth:`choose` gives."""
        binding = self.choose(session, port, network, host)
        return {"host": host, "vif_type": binding.vif_type,
                "vif_details": json.dumps(dict(binding.vif_details))}

    @staticmethod
    def as_bound(port: objects.Port, values: Mapping[str, Any]) -> objects.Port:
        """``port`` bound as :meth:`chosen`'s ``values`` say."""
        return port.replace(binding_host_id=values["host"], binding_vif_type=values["vif_type"],
                            binding_vif_details=json.loads(values["vif_details"]),
                            status_reason=None)

    def choose(self, session: orm.Session, port: objects.Port, network: objects.Network,
               host: str) -> driver_base.Binding:
        """The VIF type and details ``host``'s driver chooses for ``port`` (no writes)."""
        binder = self.binding_driver(session, host)
        reason = binder.check_network(network) or _port_security_refusal(binder, port)
        if reason is not None:
            raise exc.BindingFailed(port_id=port.id, host=host, reason=reason)
        return (driver_manager.bind_for_host(binder, port, network, host)
                if binder is self.core.driver else binder.bind_port(port, network))

    @staticmethod
    def insert_unbound(session: orm.Session, rows: list[dict[str, Any]]) -> None:
        """The ACTIVE, unbound binding row of each new port (``id``, ``binding_profile``)."""
        Binder.insert_active(session, [(r["id"], r.get("binding_profile"), None) for r in rows])

    @staticmethod
    def insert_active(session: orm.Session,
                      rows: Sequence[tuple[str, str | None, Mapping[str, Any] | None]]) -> None:
        """The ACTIVE binding row of each new port: (port id, JSON profile, binding
        values from :meth:`chosen`, or None for unbound), in one statement."""
        session.execute(sa.insert(_bindings), [{
            "port_id": port_id, "status": BINDING_ACTIVE, "active": True,
            "profile": profile or "{}",
            **(values or {"host": "", "vif_type": constants.VIF_TYPE_UNBOUND,
                          "vif_details": "{}"})} for port_id, profile, values in rows])

    @staticmethod
    def set_profile(session: orm.Session, port_id: str, profile: Mapping[str, Any]) -> None:
        """Store the binding profile of the port's ACTIVE binding."""
        session.execute(sa.update(_bindings).where(
            _bindings.c.port_id == port_id, _bindings.c.active.is_(True)).values(
            profile=json.dumps(dict(profile))))

    @staticmethod
    def unbind(session: orm.Session, port_id: str) -> None:
        """Reset the ACTIVE binding to unbound and drop the INACTIVE ones."""
        Binder.unbind_all(session, [port_id])

    @staticmethod
    def unbind_all(session: orm.Session, port_ids: list[str]) -> None:
        """:meth:`unbind` of several ports, in two statements."""
        conn = session.connection()
        conn.execute(_DROP_INACTIVE_OF, {"ps": port_ids})
        conn.execute(_UNBIND_ACTIVE_OF, {"ps": port_ids})

    @staticmethod
    def unbind_values() -> dict[str, Any]:
        """Port column values of a port with no binding (with :meth:`unbind`)."""
        return dict(UNBOUND_VALUES)
