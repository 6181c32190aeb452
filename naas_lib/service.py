"""``NetworkService``: the one public door of naas_lib.

A thin facade: it builds the parts (``naas_lib.resources``: networks,
subnets, ports, attachments, hosts, sync, higher-layer services, each a
class with its dependencies handed in, see ``resources/assembly.py``) and
delegates each public method to the part that owns it. Callers never touch
a database session, a driver or anything inside ``resources/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from naas_lib import conf as naas_conf
from naas_lib import exceptions as exc
from naas_lib import extensions
from naas_lib.db import api as db_api
from naas_lib.db import migration
from naas_lib.db import settings as db_settings
from naas_lib.drivers import base as driver_base
from naas_lib.drivers import manager as driver_manager
from naas_lib.network_types import segment_pool
from naas_lib.resources.assembly import Parts, assemble
from naas_lib.resources.core import Hooks

LOG = logging.getLogger(__name__)

_CORE_GROUPS = (None, naas_conf.NETWORK_GROUP, naas_conf.HOSTS_GROUP)


class _Delegate:
    """A public method of the service that is a method of one of its parts."""

    def __init__(self, part: str, name: str) -> None:
        self.part = part
        self.name = name
        self.__doc__ = f"See ``resources.{part}``: ``{name}``."

    def __get__(self, service: Any, owner: type | None = None) -> Any:
        if service is None:
            return self
        return getattr(getattr(service.parts, self.part), self.name)


class NetworkService:
    """Networks, subnets, ports and attachments of one deployment.

    ``NetworkService(conf)`` gives a ready service: built, then started
    (schema, settings, host record, extensions). ``NetworkService.build(conf)``
    builds the parts without that I/O; ``start()`` does it. A service built
    with ``host=H`` is the one that plugs ports attached to H.
    """

    def __init__(self, conf: cfg.ConfigOpts, driver_cls: type[driver_base.Driver] | None = None,
                 create_schema: bool | None = None, hooks: Hooks | None = None,
                 start: bool = True, register_host: bool = True) -> None:
        self.conf = conf
        self.parts: Parts = assemble(conf, driver_cls, hooks, trigger=self)
        core = self.parts.core
        self.host, self.db, self.events, self.policy = core.host, core.db, core.events, \
            core.policy
        self.create_schema = create_schema
        self._extensions: extensions.Extensions | None = None
        if start:
            self.start(register_host=register_host)

    @classmethod
    def build(cls, conf: cfg.ConfigOpts, driver_cls: type[driver_base.Driver] | None = None,
              create_schema: bool | None = None, hooks: Hooks | None = None) -> NetworkService:
        """The service's parts, built without touching the database; call :meth:`start`."""
        return cls(conf, driver_cls, create_schema, hooks, start=False)

    def start(self, register_host: bool = True) -> NetworkService:
        """Migrate (embedded file) or check the schema, store settings, record the host,
        start extensions (notifications, service plugins: last, they see a ready service).

        ``register_host`` False leaves the hosts table alone (a tool that must
        first check what the host recorded, such as ``naas sync``).
        """
        db = self.db
        create_schema = self.create_schema
        if create_schema is None:
            create_schema = db_api.is_sqlite(db.url)
        if create_schema:
            migration.upgrade(db.engine)
        else:
            current, head = migration.current_revision(db.engine), migration.head_revision()
            if current != head:
                raise exc.SchemaOutOfDate(current=current or "empty", head=head)
        self._store_settings()
        if register_host:
            self.parts.hosts.register_host()
        self._extensions = extensions.start(self)
        return self

    def _store_settings(self) -> None:
        """Store deployment settings on first start; refuse to run on disagreement."""
        core = self.parts.core
        wanted = {"base_mac": core.base_mac, **core.types.settings()}

        def run() -> None:
            with core.db.writer() as session:
                db_settings.reconcile(session, wanted)
                segment_pool.ensure_ranges(session, core.types.id_ranges())

        core.retrying(run)()

    @classmethod
    def from_settings(
        cls,
        database_url: str | None = None,
        driver: str = "noop",
        host: str | None = None,
        config_files: list[str] | None = None,
        driver_cls: type[driver_base.Driver] | None = None,
        create_schema: bool | None = None,
        hooks: Hooks | None = None,
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
        return cls(conf, driver_cls=driver_cls, create_schema=create_schema, hooks=hooks)

    def close(self) -> None:
        """Stop extensions and the sync loop; release the driver's sockets and the pool."""
        extensions.stop(self._extensions)
        self._extensions = None
        self.parts.sync.stop_sync()
        self.parts.core.driver.close()
        self.db.dispose()

    def __enter__(self) -> NetworkService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what callers and tests may look at ------------------------------------

    @property
    def driver(self) -> driver_base.Driver:
        """The dataplane driver (tests and diagnostics; callers go through methods)."""
        return self.parts.core.driver

    @property
    def driver_name(self) -> str:
        """The name of this service's dataplane driver."""
        return self.parts.core.driver.name

    @property
    def notifier(self) -> Any:
        return self._extensions.notifier if self._extensions else None

    @property
    def service_plugins(self) -> list[Any]:
        return self._extensions.plugins if self._extensions else []


#: The public operations, each owned by one part (``service.parts.<part>``).
OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "networks": ("get_network", "get_networks", "list_networks", "create_network",
                 "update_network",
                 "delete_network"),
    "subnets": ("get_subnet", "list_subnets", "create_subnet", "update_subnet",
                "delete_subnet"),
    "ports": ("get_port", "list_ports", "create_port", "create_ports", "create_instance_ports",
              "update_port",
              "delete_port", "delete_ports"),
    "port_bindings": ("list_port_bindings", "get_port_binding", "create_port_binding",
                      "activate_port_binding", "delete_port_binding", "forget_moved_mac",
                      "list_bindings_of_ports", "bind_ports_only_to", "create_port_bindings"),
    "attachments": ("get_attachment", "list_attachments", "attach_port", "detach_port",
                    "detach_ports", "detach_instance"),
    "plugging": ("plug_port", "plug_ports", "set_port_status", "after_port_update",
                 "unplug_ports", "network_info_sources", "unplugs_in_background"),
    "binder": ("binding_driver",),
    "hosts": ("register_host", "heartbeat", "get_host", "list_hosts"),
    "sync": ("desired_state", "sync", "start_sync", "stop_sync"),
    "services": ("get_service", "list_services", "list_service_networks", "create_service",
                 "delete_service", "associate_service", "disassociate_service"),
    "security_groups": ("get_security_group", "list_security_groups", "create_security_group",
                        "update_security_group", "delete_security_group",
                        "get_security_group_rule", "list_security_group_rules",
                        "create_security_group_rule", "delete_security_group_rule"),
    "core": ("authorize", "enforce", "publish", "retrying", "owner_project", "generate_mac"),
}
for _part, _names in OPERATIONS.items():
    for _name in _names:
        setattr(NetworkService, _name, _Delegate(_part, _name))


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
    driver_manager.register_driver_opts(conf, driver, driver_cls)
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
