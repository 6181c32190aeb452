"""Every option a naas process reads, for ``oslo-config-generator --namespace naas_lib``.

:func:`naas_lib.conf.list_opts` holds naas's own groups; this module adds
what a complete sample needs around them: the ``[database]`` group of
oslo.db, ``[oslo_messaging_notifications]`` of oslo.messaging, ``[oslo_policy]``
and the option group of every installed dataplane driver (``[linuxbridge]``
...). The libraries and drivers are imported only when the generator asks.
"""

from __future__ import annotations

import importlib.metadata
import logging

from oslo_config import cfg

from naas_lib import conf as naas_conf

LOG = logging.getLogger(__name__)

DRIVER_NAMESPACE = "naas_lib.drivers"
NOTIFICATIONS_GROUP = "oslo_messaging_notifications"


def driver_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``(driver name, options)`` of every installed driver that has options, by name.

    A driver that cannot be imported is left out with a warning, so one
    broken third-party package does not prevent the sample of the others.
    """
    from naas_lib import exceptions as exc
    from naas_lib.drivers import manager as driver_manager

    names = sorted({ep.name for ep in importlib.metadata.entry_points(group=DRIVER_NAMESPACE)})
    out: list[tuple[str, list[cfg.Opt]]] = []
    for name in names:
        try:
            cls = driver_manager.load_driver_class(name)
        except exc.DriverNotFound as e:
            LOG.warning("Driver %s left out of the sample: %s", name, e)
            continue
        opts = list(cls.get_opts())
        if opts:
            out.append((cls.name, opts))
    return out


def library_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The groups of the OpenStack libraries naas reads (database, notifications, policy)."""
    from oslo_db import options as db_options
    from oslo_messaging import opts as messaging_opts
    from oslo_policy import opts as policy_opts

    groups: list[tuple[str, list[cfg.Opt]]] = list(db_options.list_opts())
    groups += [(g, list(o)) for g, o in messaging_opts.list_opts() if g == NOTIFICATIONS_GROUP]
    groups += [(g, list(o)) for g, o in policy_opts.list_opts()]
    return groups


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """The whole sample: naas's groups, the libraries' groups, then the drivers'."""
    return list(naas_conf.list_opts()) + library_opts() + driver_opts()
