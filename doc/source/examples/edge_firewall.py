"""A toy edge firewall living in the naas process as a service plugin.

It registers itself in the service registry at start-up, keeps rules per
associated network, refuses to be dissociated (or to let the network be
deleted) while it still has rules there, and notes every port created on a
network it protects. A real firewall would program nftables or an appliance
where this one appends to lists.
"""

from __future__ import annotations

from naas_lib import RequestContext, events
from naas_lib import exceptions as exc


class EdgeFirewall:
    """Entry point ``edge-firewall`` in the ``naas_lib.services`` namespace."""

    NAME = "edge-firewall"
    PROJECT = "firewall-ops"

    def __init__(self, service) -> None:
        self.service = service
        self.rules: dict[str, list[str]] = {}  # network id -> rules
        self.ports_seen: list[str] = []
        ctx = RequestContext(project_id=self.PROJECT, user_id=self.NAME, roles=["admin"])
        found = service.list_services(ctx, name=self.NAME, service_type="firewall")
        self.record = found[0] if found else service.create_service(
            ctx, self.NAME, "firewall", description="example edge firewall")
        for network_id in self.record.network_ids:  # associations survive restarts
            self.rules.setdefault(network_id, [])
        on = service.events.subscribe
        on(self._associated, events.SERVICE_ASSOCIATION, events.AFTER_CREATE)
        on(self._before_dissociate, events.SERVICE_ASSOCIATION, events.BEFORE_DELETE)
        on(self._dissociated, events.SERVICE_ASSOCIATION, events.AFTER_DELETE)
        on(self._port_created, events.PORT, events.AFTER_CREATE)

    # -- what operators call -------------------------------------------------

    def add_rule(self, network_id: str, rule: str) -> None:
        if network_id not in self.rules:
            raise exc.NotFound(f"{self.NAME} is not associated with network {network_id}.")
        self.rules[network_id].append(rule)

    def clear_rules(self, network_id: str) -> None:
        self.rules[network_id] = []

    # -- event callbacks: (resource, event, trigger, payload) ------------------

    def _mine(self, payload: events.EventPayload) -> bool:
        return payload.resource_id == self.record.id

    def _associated(self, resource, event, trigger, payload) -> None:
        if self._mine(payload):
            self.rules.setdefault(payload.metadata["network_id"], [])

    def _before_dissociate(self, resource, event, trigger, payload) -> None:
        # BEFORE callbacks may veto: the error reaches the caller unchanged and
        # nothing is written (the network, or the association, stays).
        network_id = payload.metadata["network_id"]
        if self._mine(payload) and self.rules.get(network_id):
            raise exc.Conflict(f"{self.NAME} still has {len(self.rules[network_id])} rule(s) "
                               f"on network {network_id}; clear them first.")

    def _dissociated(self, resource, event, trigger, payload) -> None:
        if self._mine(payload):
            self.rules.pop(payload.metadata["network_id"], None)

    def _port_created(self, resource, event, trigger, payload) -> None:
        # AFTER callbacks only observe; if this raised, the port would still exist.
        port = payload.latest
        if port.network_id in self.rules:
            self.ports_seen.append(port.id)
