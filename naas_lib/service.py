"""``NetworkService``: the one public door of naas_lib.

Validation, tenancy, transactions, events and driver calls meet here; callers
never touch a database session or a driver. The operations live in
``naas_lib.resources`` (one module per resource) and are composed below.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc

from naas_lib import conf as naas_conf
from naas_lib import constants, events, extensions, policy, segments, validation
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import api as db_api
from naas_lib.db import migration
from naas_lib.db import settings as db_settings
from naas_lib.drivers import base as driver_base
from naas_lib.drivers import manager as driver_manager
from naas_lib.ipam import macs
from naas_lib.resources.attachments import AttachmentOps
from naas_lib.resources.hosts import HostOps
from naas_lib.resources.networks import NetworkOps
from naas_lib.resources.ports import PortOps
from naas_lib.resources.service_registry import ServiceRegistryOps
from naas_lib.resources.subnets import SubnetOps

LOG = logging.getLogger(__name__)
T = TypeVar("T")

_CORE_GROUPS = (None, naas_conf.NETWORK_GROUP, naas_conf.HOSTS_GROUP)


class NetworkService(ServiceRegistryOps, HostOps, NetworkOps, SubnetOps, PortOps, AttachmentOps):
    """Networks, subnets, ports and attachments of one deployment.

    Build it from an oslo.config ``ConfigOpts`` (the full form) or with
    :meth:`from_settings` in one line. A service built with ``host=H`` is the
    one that plugs ports attached to H.
    """

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        driver_cls: type[driver_base.Driver] | None = None,
        create_schema: bool | None = None,
    ) -> None:
        naas_conf.register_opts(conf)
        self.conf = conf
        self.host: str | None = conf.host or None
        url = conf.database.connection or db_api.default_url()
        self.db = db_api.Database(url)
        if create_schema is None:
            create_schema = db_api.is_sqlite(url)
        if create_schema:
            migration.upgrade(self.db.engine)
        else:
            current, head = migration.current_revision(self.db.engine), migration.head_revision()
            if current != head:
                raise exc.SchemaOutOfDate(current=current or "empty", head=head)
        self.events = events.CallbackRegistry()
        self.policy = policy.Enforcer(conf)
        net = conf[naas_conf.NETWORK_GROUP]
        self._check_base_mac(net.base_mac)
        # Stored and compared across hosts: one spelling for one MAC.
        self.base_mac = validation.mac_address("base_mac", net.base_mac)
        self.vni_ranges = segments.parse_vni_ranges(net.vni_ranges)
        self.vlan_ranges, self.vlan_physnets = segments.parse_vlan_ranges(net.network_vlan_ranges)
        self.flat_networks = list(net.flat_networks)
        for t in net.tenant_network_types:
            if t not in constants.NETWORK_TYPES:
                raise exc.InvalidInput(field="tenant_network_types",
                                       reason=f"unknown network type {t!r}")
        self._retry = oslo_db_api.wrap_db_retry(
            max_retries=net.max_allocation_retries,
            retry_interval=0.005,
            inc_retry_interval=True,
            max_retry_interval=0.25,
            retry_on_deadlock=True,
            jitter=True,
            exception_checker=lambda e: (isinstance(e, exc.ConcurrentModification)
                                         or db_api.is_sqlite_busy(e)),
        )
        self._bootstrap()
        self.driver = driver_manager.build_driver(conf, conf.driver, self.host, driver_cls)
        self.register_host()
        extensions.start(self)  # notifications, service plugins (last: they see a ready service)

    # -- construction --------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        database_url: str | None = None,
        driver: str = "noop",
        host: str | None = None,
        config_files: list[str] | None = None,
        driver_cls: type[driver_base.Driver] | None = None,
        create_schema: bool | None = None,
        **options: Any,
    ) -> NetworkService:
        """A ready service in one line.

        ``options`` are core option names (``vni_ranges=["1:100"]``,
        ``global_physnet_mtu=9000``) or, for a whole group such as a
        driver's, a mapping (``linuxbridge={"vxlan_endpoint": "10.0.0.1"}``).
        Without ``database_url`` the embedded SQLite file is used; it (and
        any database when ``create_schema`` is true) is migrated to the
        newest schema first. Server databases are otherwise migrated by
        ``naas-db-manage upgrade head``.
        """
        conf = build_conf(database_url=database_url, driver=driver, host=host,
                          config_files=config_files, driver_cls=driver_cls, **options)
        return cls(conf, driver_cls=driver_cls, create_schema=create_schema)

    def close(self) -> None:
        """Release the driver's sockets and the database pool."""
        extensions.stop(self)
        self.stop_sync()
        self.driver.close()
        self.db.dispose()

    def __enter__(self) -> NetworkService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _bootstrap(self) -> None:
        """Store deployment settings on first start; refuse to run on disagreement."""
        wanted = {
            "base_mac": self.base_mac,
            "vni_ranges": ",".join(r.as_text() for r in self.vni_ranges),
            "network_vlan_ranges": ",".join(r.as_text() for r in self.vlan_ranges),
        }

        def run() -> None:
            with self.db.writer() as session:
                db_settings.reconcile(session, wanted)
                segments.ensure_ranges(session, self.vni_ranges + self.vlan_ranges)

        self._retry(run)()

    @staticmethod
    def _check_base_mac(base: str) -> None:
        try:
            # validation first: netaddr alone reads 'fa:16:3e' as 00:fa:00:16:00:3e
            octets = macs.base_octets(validation.mac_address("base_mac", base))
        except Exception:
            raise exc.InvalidInput(field="base_mac", reason=f"{base!r} is not a MAC") from None
        if octets[0] & 0x01:
            raise exc.InvalidInput(field="base_mac", reason="must be a unicast MAC")

    # -- helpers shared by the operations ------------------------------------

    def retrying(self, fn: Callable[..., T]) -> Callable[..., T]:
        """Run ``fn`` again when it lost a race (deadlock, RetryRequest)."""
        wrapped = self._retry(fn)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> T:
            try:
                return wrapped(*args, **kwargs)
            except db_exc.RetryRequest as e:  # retries exhausted on an unexpected kind
                raise exc.ConcurrentModification(resource="resource", resource_id="?") from e

        return call

    def authorize(self, context: RequestContext, rule: str, target: Mapping[str, Any]) -> bool:
        return self.policy.check(rule, dict(target), context.policy_credentials())

    def enforce(self, context: RequestContext, rule: str, target: Mapping[str, Any]) -> None:
        if not self.authorize(context, rule, target):
            raise exc.NotAuthorized(action=rule)

    def publish(self, resource: str, event: str, payload: events.EventPayload) -> None:
        self.events.publish(resource, event, self, payload)

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


def build_conf(
    database_url: str | None = None,
    driver: str = "noop",
    host: str | None = None,
    config_files: list[str] | None = None,
    driver_cls: type[driver_base.Driver] | None = None,
    **options: Any,
) -> cfg.ConfigOpts:
    """A ``ConfigOpts`` with core options registered and the given overrides set."""
    conf = cfg.ConfigOpts()
    naas_conf.register_opts(conf)
    conf([], project="naas", default_config_files=list(config_files or []))
    if database_url is not None:
        conf.set_override("connection", database_url, group="database")
    conf.set_override("driver", driver)
    if host is not None:
        conf.set_override("host", host)
    cls = driver_cls or driver_manager.load_driver_class(driver)
    driver_opts = cls.get_opts()
    if driver_opts:
        conf.register_opts(driver_opts, group=cls.name)
    for key, value in options.items():
        if isinstance(value, Mapping) and key in conf:
            for opt, opt_value in value.items():
                conf.set_override(opt, opt_value, group=key)
            continue
        for group in _CORE_GROUPS:
            names = conf if group is None else conf[group]
            if key in names and not isinstance(getattr(names, key, None), cfg.ConfigOpts.GroupAttr):
                conf.set_override(key, value, group=group)
                break
        else:
            raise exc.UnknownField(field=key, resource="settings")
    return conf
