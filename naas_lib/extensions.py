"""Start and stop what extends a service: notifications and service plugins.

Called from :class:`~naas_lib.NetworkService` at the end of construction and
in ``close()``, so the core stays unaware of oslo.messaging and entry points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from naas_lib import notifications, service_plugins

if TYPE_CHECKING:
    from naas_lib.service import NetworkService


def start(service: NetworkService) -> None:
    """Build the notifier (when configured) and load the configured service plugins.

    On failure everything the service holds is released before the error
    (``ServicePluginNotFound`` naming the plugin) propagates.
    """
    service.notifier = None
    service.service_plugins = []
    try:
        service.notifier = notifications.setup(service)
        service.service_plugins = service_plugins.load_plugins(
            service, service.conf.service_plugins)
    except BaseException:
        service.close()
        raise


def stop(service: NetworkService) -> None:
    """Close plugins, then the notifier; safe on a half-started service and twice."""
    service_plugins.close_plugins(getattr(service, "service_plugins", []))
    service.service_plugins = []
    notifier = getattr(service, "notifier", None)
    service.notifier = None
    if notifier is not None:
        notifier.close()
