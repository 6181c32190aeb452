"""The small shared core every resource is handed: database, policy, events, retry.

Nothing here knows a resource; resources receive a :class:`Core` and the
other resources they call, and never reach into each other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from oslo_config import cfg

from naas_lib import events, policy, validation
from naas_lib import exceptions as exc
from naas_lib.conf import HOSTS_GROUP, NETWORK_GROUP
from naas_lib.context import RequestContext
from naas_lib.db import api as db_api
from naas_lib.db import retry as db_retry
from naas_lib.drivers import base as driver_base
from naas_lib.ipam import macs
from naas_lib.network_types.manager import TypeManager

T = TypeVar("T")


class Hooks:
    """Named points in an operation where tests inject faults; production passes none.

    A crash-safety test hands the service a subclass whose :meth:`point`
    kills or raises at, e.g., ``"after_commit_before_plug"``.
    """

    def point(self, name: str) -> None:
        """Called when an operation reaches the point ``name``."""


class Core:
    """What every resource shares; built without I/O."""

    def __init__(self, conf: cfg.ConfigOpts, db: db_api.Database, driver: driver_base.Driver,
                 types: TypeManager, hooks: Hooks | None = None) -> None:
        self.conf = conf
        self.host: str | None = conf.host or None
        self.db = db
        self.driver = driver
        self.types = types
        self.hooks = hooks or Hooks()
        self.events = events.CallbackRegistry()
        #: What event callbacks receive as their trigger: the public service.
        self.trigger: Any = self
        self.policy = policy.Enforcer(conf)
        net = conf[NETWORK_GROUP]
        self.base_mac = check_base_mac(net.base_mac)
        self.host_down_time = conf[HOSTS_GROUP].host_down_time
        #: The capabilities this process recorded for its host (``register_host``):
        #: the host's record is only ever written by services running its driver.
        self.registered_capabilities: dict[str, Any] | None = None
        self._retry = db_retry.retrying(max_retries=net.max_allocation_retries)

    def retrying(self, fn: Callable[..., T]) -> Callable[..., T]:
        """Run ``fn`` (a whole transaction) again when it lost a race or the database went.

        Exhausted, a lost race is ``ConcurrentModification`` and an outage
        ``DatabaseUnavailable`` (both typed, both safe to retry).
        """
        return self._retry(fn)

    def authorize(self, context: RequestContext, rule: str, target: Mapping[str, Any]) -> bool:
        return self.policy.check(rule, dict(target), context.policy_credentials())

    def enforce(self, context: RequestContext, rule: str, target: Mapping[str, Any]) -> None:
        if not self.authorize(context, rule, target):
            raise exc.NotAuthorized(action=rule)

    def publish(self, resource: str, event: str, payload: events.EventPayload) -> None:
        self.events.publish(resource, event, self.trigger, payload)

    def owner_project(self, context: RequestContext, attrs: dict[str, Any]) -> str:
        """The project a new resource belongs to: the caller's, or another for admins."""
        project = attrs.pop("project_id", None)
        tenant = attrs.pop("tenant_id", None)
        if project is not None and tenant is not None and project != tenant:
            raise exc.InvalidInput(field="project_id", reason="differs from tenant_id")
        project = project if project is not None else tenant
        if project is not None:
            if not isinstance(project, str) or not project or len(project) > 255:
                raise exc.InvalidInput(field="project_id", reason=f"{project!r} is not valid")
            if project != context.project_id and not context.is_admin:
                raise exc.NotAuthorized(action="create resources for another project")
            return project
        if not context.project_id:
            raise exc.InvalidInput(field="project_id",
                                   reason="required when the context has no project")
        return context.project_id

    def generate_mac(self) -> str:
        return macs.generate(self.base_mac)


def check_base_mac(base: str) -> str:
    """``[network] base_mac`` in its one stored spelling; InvalidInput when unusable."""
    try:
        # validation first: netaddr alone reads 'fa:16:3e' as 00:fa:00:16:00:3e
        spelled = validation.mac_address("base_mac", base)
        octets = macs.base_octets(spelled)
    except Exception:
        raise exc.InvalidInput(field="base_mac", reason=f"{base!r} is not a MAC") from None
    if octets[0] & 0x01:
        raise exc.InvalidInput(field="base_mac", reason="must be a unicast MAC")
    return spelled
