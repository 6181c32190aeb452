"""In-process service plugins, loaded by name from the ``naas_lib.services`` namespace.

A plugin is a callable (a function or a class) registered as an entry point::

    [options.entry_points]
    naas_lib.services =
        audit-firewall = my_firewall.plugin:FirewallHook

Named in ``[DEFAULT] service_plugins``, it is called once with the
:class:`~naas_lib.NetworkService` while the service starts, and typically
subscribes callbacks to ``service.events``. What it returns is kept in
``service.service_plugins`` (in configured order) and, when it has a
``close()`` method, closed with the service.

Only the configured names are loaded. A name with no entry point, or a
plugin that fails to import or raises while starting, stops the service from
starting with :class:`~naas_lib.exceptions.ServicePluginNotFound` naming it:
a service that silently runs without its firewall hook is worse than one
that does not start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exc

from naas_lib import exceptions as exc

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)

NAMESPACE = "naas_lib.services"


def load_plugin_class(name: str) -> Any:
    """The object behind entry point ``name`` (imported, not yet called)."""
    failures: list[str] = []

    def on_failure(_manager: Any, entrypoint: Any, error: Exception) -> None:
        failures.append(f"{type(error).__name__}: {error}")

    try:
        manager = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=False, on_load_failure_callback=on_failure)
    except stevedore_exc.NoMatches:
        reason = failures[0] if failures else f"no entry point named {name!r} in {NAMESPACE}"
        raise exc.ServicePluginNotFound(name=name, reason=reason) from None
    except stevedore_exc.MultipleMatches:
        raise exc.ServicePluginNotFound(
            name=name, reason=f"several entry points named {name!r} in {NAMESPACE}") from None
    if failures:
        raise exc.ServicePluginNotFound(name=name, reason=failures[0])
    return manager.driver


def load_plugins(service: NetworkService, names: Iterable[str]) -> list[Any]:
    """Load and start the named plugins, in order; the first failure stops start-up."""
    started: list[Any] = []
    try:
        for name in names:
            started.append(_start_one(service, name))
            LOG.info("Service plugin %s started", name)
    except BaseException:
        close_plugins(started)
        raise
    return started


def _start_one(service: NetworkService, name: str) -> Any:
    plugin = load_plugin_class(name)
    if not callable(plugin):
        raise exc.ServicePluginNotFound(name=name, reason=f"{plugin!r} is not callable")
    try:
        return plugin(service)
    except exc.ServicePluginNotFound:
        raise
    except Exception as e:
        raise exc.ServicePluginNotFound(
            name=name, reason=f"failed to start: {type(e).__name__}: {e}") from e


def close_plugins(plugins: Iterable[Any]) -> None:
    """Call ``close()`` on started plugins that have one; failures are logged."""
    for plugin in reversed(list(plugins)):
        close = getattr(plugin, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                LOG.exception("Closing service plugin %r failed", plugin)
