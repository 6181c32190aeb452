"""The phases every create, update and delete goes through, written once.

BEFORE event (may veto) -> write transaction { the resource's own writes,
PRECOMMIT event, driver precommit } with retry on lost races -> driver
postcommit (a failed create is compensated; a failed update or delete is
logged and left to ``sync``) -> AFTER event. A resource states only what
differs: its event name, its driver hooks and its writes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import orm

from naas_lib import events, objects
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.drivers.base import NetworkContext, PortContext
from naas_lib.resources.core import Core

LOG = logging.getLogger(__name__)

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclasses.dataclass
class Outcome:
    """One resource's states around an operation, built once and handed down."""

    resource_id: str
    before: Any = None
    after: Any = None
    #: The port's network, for port operations (drivers get complete objects).
    network: objects.Network | None = None
    #: The validated request, for events.
    request: dict[str, Any] | None = None
    #: Anything else the resource carries from its writes to its follow-up.
    extra: Any = None
    #: What the write already did for the follow-up (a new port inserted as its
    #: attachment leaves it: its binding's values); reset by each attempt.
    written: Any = None
    #: Its BEFORE event was published (a retried transaction does not repeat it).
    announced: bool = False

    @property
    def latest(self) -> Any:
        return self.after if self.after is not None else self.before


@dataclasses.dataclass(frozen=True)
class Phases:
    """What makes one kind of operation differ from another."""

    resource: str
    action: str
    #: Driver hook names, e.g. ``create_network_precommit``; None when the driver has none.
    precommit: str | None = None
    postcommit: str | None = None

    def event(self, phase: str) -> str:
        return f"{phase}_{self.action}"


def network_context(out: Outcome, session: orm.Session | None) -> NetworkContext:
    return NetworkContext(out.after if out.after is not None else out.before,
                          out.before if out.after is not None else None, session)


def port_context(out: Outcome, session: orm.Session | None) -> PortContext:
    assert out.network is not None
    return PortContext(out.after if out.after is not None else out.before, out.network,
                       out.before if out.after is not None else None, session)


class Lifecycle:
    """Runs operations for the resources of one core."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def before(self, phases: Phases, context: RequestContext, outcomes: Sequence[Outcome]
               ) -> None:
        """Publish the BEFORE events (subscribers may veto)."""
        event = phases.event("before")
        if not self.core.events.has_subscribers(phases.resource, event):
            return
        for out in outcomes:
            self.core.publish(phases.resource, event, events.EventPayload(
                context, out.resource_id, states=(out.before, None), request=out.request))

    def before_once(self, phases: Phases, context: RequestContext,
                    outcomes: Sequence[Outcome]) -> None:
        """BEFORE events from inside the write transaction, once per outcome.

        An update or delete reads the old object in its write transaction and
        announces it there (a veto rolls the transaction back); a retry of that
        transaction does not announce it again.
        """
        fresh = [out for out in outcomes if not out.announced]
        for out in fresh:
            out.announced = True
        self.before(phases, context, fresh)

    def run(self, phases: Phases, context: RequestContext,
            write: Callable[[orm.Session], list[Outcome]],
            driver_context: Callable[[Outcome, orm.Session | None], Any] | None = None,
            compensate: Callable[[list[Outcome]], None] | None = None,
            announced: Sequence[Outcome] = (),
            finish: Callable[[orm.Session, list[Outcome]], None] | None = None,
            after_postcommit: Callable[[list[Outcome]], None] | None = None
            ) -> list[Outcome]:
        """Write in one retried transaction, then run the driver's postcommit and AFTER.

        ``announced`` are the outcomes whose BEFORE event is published first.
        ``write`` reads and writes, returning the outcomes; ``finish`` writes
        after PRECOMMIT (a delete removes its rows there, so PRECOMMIT
        subscribers still see them). ``compensate`` undoes a create whose
        postcommit failed (then DriverError); ``after_postcommit`` is the
        resource's host-side follow-up, before the AFTER events.
        """
        self.before(phases, context, announced)
        outcomes = self.core.retrying(self._transaction)(phases, context, write, driver_context,
                                                         finish)
        self.postcommit(phases, outcomes, driver_context, compensate)
        if after_postcommit is not None:
            after_postcommit(outcomes)
        self.after(phases, context, outcomes)
        return outcomes

    def _transaction(self, phases: Phases, context: RequestContext,
                     write: Callable[[orm.Session], list[Outcome]],
                     driver_context: Callable[[Outcome, orm.Session | None], Any] | None,
                     finish: Callable[[orm.Session, list[Outcome]], None] | None
                     ) -> list[Outcome]:
        with self.core.db.writer() as session:
            outcomes = write(session)
            self.precommit(phases, context, outcomes, session, driver_context)
            if finish is not None:
                finish(session, outcomes)
            return outcomes

    def precommit(self, phases: Phases, context: RequestContext, outcomes: Sequence[Outcome],
                  session: orm.Session,
                  driver_context: Callable[[Outcome, orm.Session | None], Any] | None) -> None:
        """PRECOMMIT event and driver precommit of each outcome, inside the transaction."""
        event = phases.event("precommit")
        listened = self.core.events.has_subscribers(phases.resource, event)
        hook = getattr(self.core.driver, phases.precommit) \
            if phases.precommit and driver_context else None
        for out in outcomes:
            if listened:
                self.core.publish(phases.resource, event, events.EventPayload(
                    context, out.resource_id, states=(out.before, out.after),
                    request=out.request, session=session))
            if hook is not None:
                hook(driver_context(out, session))

    def postcommit(self, phases: Phases, outcomes: Sequence[Outcome],
                   driver_context: Callable[[Outcome, orm.Session | None], Any] | None,
                   compensate: Callable[[list[Outcome]], None] | None) -> None:
        if not phases.postcommit or driver_context is None:
            return
        hook = getattr(self.core.driver, phases.postcommit)
        for out in outcomes:
            try:
                hook(driver_context(out, None))
            except Exception as e:
                if compensate is None:
                    LOG.exception("Driver %s %s failed; sync retries",
                                  self.core.driver.name, phases.postcommit)
                    continue
                compensate(list(outcomes))
                raise exc.DriverError(driver=self.core.driver.name, reason=str(e)) from e

    def after(self, phases: Phases, context: RequestContext, outcomes: Sequence[Outcome]
              ) -> None:
        """Publish the AFTER events (notifications only)."""
        event = phases.event("after")
        for out in outcomes:
            self.core.publish(phases.resource, event, events.EventPayload(
                context, out.resource_id, states=(out.before, out.after), request=out.request))
