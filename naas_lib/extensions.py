"""Start and stop what extends a service: notifications and service plugins.

Called from :class:`~naas_lib.NetworkService` at the end of ``start()`` and in
``close()``, so the core stays unaware of oslo.messaging and entry points.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from naas_lib import notifications, service_plugins

if TYPE_CHECKING:
    from naas_lib.service import NetworkService


@dataclasses.dataclass
class Extensions:
    """What a started service runs besides its core."""

    notifier: Any = None
    plugins: list[Any] = dataclasses.field(default_factory=list)


def start(service: NetworkService) -> Extensions:
    """Build the notifier (when configured) and load the configured service plugins.

    On failure everything the service holds is released before the error
    (``ServicePluginNotFound`` naming the plugin) propagates.
    """
    started = Extensions()
    try:
        started.notifier = notifications.setup(service)
        started.plugins = service_plugins.load_plugins(service, service.conf.service_plugins)
    except BaseException:
        stop(started)
        service.close()
        raise
    return started


def stop(started: Extensions | None) -> None:
    """Close plugins, then the notifier; safe with None and twice."""
    if started is None:
        return
    service_plugins.close_plugins(started.plugins)
    started.plugins = []
    notifier, started.notifier = started.notifier, None
    if notifier is not None:
        notifier.close()
