"""In-process events: how higher-layer services hook into the core.

Subscribe a callback to a (resource, event) pair on a service's registry
(``service.events``). BEFORE and PRECOMMIT callbacks may veto by raising:
the operation fails with their error (a :class:`~naas_lib.exceptions.NaasError`
as raised, anything else wrapped in ``CallbackFailure``) and nothing is
written. PRECOMMIT callbacks run inside the transaction and see its session.
AFTER callbacks run after commit; their failures are logged and never reach
the caller. Callbacks run in priority order (lower first), then in the order
they subscribed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable
from typing import Any

from oslo_db import exception as db_exc

from naas_lib import exceptions as exc

LOG = logging.getLogger(__name__)

# Resources.
NETWORK = "network"
SUBNET = "subnet"
PORT = "port"
ATTACHMENT = "attachment"
SERVICE = "service"
SERVICE_ASSOCIATION = "service_association"
SECURITY_GROUP = "security_group"
SECURITY_GROUP_RULE = "security_group_rule"
RESOURCES = (NETWORK, SUBNET, PORT, ATTACHMENT, SERVICE, SERVICE_ASSOCIATION, SECURITY_GROUP,
             SECURITY_GROUP_RULE)

# Events: phase + operation.
BEFORE_CREATE, PRECOMMIT_CREATE, AFTER_CREATE = "before_create", "precommit_create", "after_create"
BEFORE_UPDATE, PRECOMMIT_UPDATE, AFTER_UPDATE = "before_update", "precommit_update", "after_update"
BEFORE_DELETE, PRECOMMIT_DELETE, AFTER_DELETE = "before_delete", "precommit_delete", "after_delete"
VETO_EVENTS = frozenset(
    {BEFORE_CREATE, PRECOMMIT_CREATE, BEFORE_UPDATE, PRECOMMIT_UPDATE, BEFORE_DELETE,
     PRECOMMIT_DELETE}
)
AFTER_EVENTS = frozenset({AFTER_CREATE, AFTER_UPDATE, AFTER_DELETE})
EVENTS = VETO_EVENTS | AFTER_EVENTS

PRIORITY_DEFAULT = 1000

_RETRYABLE = (db_exc.DBDeadlock, db_exc.RetryRequest)


@dataclasses.dataclass(frozen=True)
class EventPayload:
    """What a callback is told: who asked, which resource, before and after.

    ``states`` is (old, new): old is None on create, new is None on delete.
    ``session`` is set for PRECOMMIT events only. ``request`` holds the
    validated attributes of a create or update.
    """

    context: Any
    resource_id: str
    states: tuple[Any, Any] = (None, None)
    request: dict[str, Any] | None = None
    session: Any = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def old(self) -> Any:
        return self.states[0]

    @property
    def latest(self) -> Any:
        return self.states[1] if self.states[1] is not None else self.states[0]


Callback = Callable[[str, str, Any, EventPayload], None]


class CallbackRegistry:
    """Subscriptions of one service; no module-level state."""

    def __init__(self) -> None:
        self._subs: dict[tuple[str, str], list[tuple[int, int, Callback]]] = {}
        self._seq = itertools.count()

    def subscribe(self, callback: Callback, resource: str, event: str,
                  priority: int = PRIORITY_DEFAULT) -> None:
        """Call ``callback(resource, event, trigger, payload)`` on every such event.

        Lower ``priority`` runs first; equal priorities run in subscription
        order. Subscribing the same callback again only moves it.
        """
        if resource not in RESOURCES:
            raise exc.InvalidInput(field="resource", reason=f"unknown resource {resource!r}")
        if event not in EVENTS:
            raise exc.InvalidInput(field="event", reason=f"unknown event {event!r}")
        subs = self._subs.setdefault((resource, event), [])
        # Subscribing the same callback again only changes its priority: a
        # plugin started twice must not be called twice per event.
        subs[:] = [s for s in subs if s[2] != callback]
        subs.append((priority, next(self._seq), callback))
        subs.sort(key=lambda s: (s[0], s[1]))

    def unsubscribe(self, callback: Callback, resource: str, event: str) -> None:
        subs = self._subs.get((resource, event), [])
        subs[:] = [s for s in subs if s[2] != callback]

    def has_subscribers(self, resource: str, event: str) -> bool:
        return bool(self._subs.get((resource, event)))

    def publish(self, resource: str, event: str, trigger: Any, payload: EventPayload) -> None:
        """Call the subscribers; veto events raise the first failure."""
        subs = self._subs.get((resource, event))
        if not subs:
            return
        for _prio, _seq, callback in list(subs):
            try:
                callback(resource, event, trigger, payload)
            except Exception as e:
                if event in AFTER_EVENTS:
                    LOG.exception("Callback %r for %s %s failed; ignored", callback, resource,
                                  event)
                    continue
                if isinstance(e, (exc.NaasError, *_RETRYABLE)):
                    # Typed errors reach the caller as raised; a deadlock or
                    # RetryRequest inside PRECOMMIT lets the transaction retry.
                    raise
                raise exc.CallbackFailure(event=event, resource=resource, reason=str(e)) from e
