"""Every option a naas process reads, for ``oslo-config-generator --namespace naas_lib``.

:func:`naas_lib.conf.list_opts` holds naas's own groups; this module adds
what a complete sample needs around them: the ``[database]`` group of
oslo.db, ``[oslo_messaging_notifications]`` of oslo.messaging, ``[oslo_policy]``
and the option group of every installed dataplane driver (``[linuxbridge]``
...). The libraries and drivers are imported only when the generator asks.
"""

from __future__ import annotations

import importlib.metadata

from oslo_config import cfg

from naas_lib import conf as naas_conf

#: The ``oslo.config.opts`` entry points of the layers above conf (found, not imported).
DRIVERS_ENTRY_POINT = "naas_lib.drivers"
API_ENTRY_POINT = "naas_lib.api"
NOTIFICATIONS_GROUP = "oslo_messaging_notifications"


def _part_opts(name: str) -> list[tuple[str, list[cfg.Opt]]]:
    """The options of the ``oslo.config.opts`` entry point ``name`` (another layer's own)."""
    for ep in importlib.metadata.entry_points(group="oslo.config.opts"):
        if ep.name == name:
            return [(g, list(o)) for g, o in ep.load()()]
    return []


def driver_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``(driver name, options)`` of every installed driver that has options, by name."""
    return _part_opts(DRIVERS_ENTRY_POINT)


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
    """The whole sample: naas's groups with the API's, the libraries' groups, the drivers'."""
    groups: dict[str | None, list[cfg.Opt]] = {}
    for group, opts in list(naas_conf.list_opts()) + _part_opts(API_ENTRY_POINT):
        groups.setdefault(group, []).extend(opts)
    return list(groups.items()) + library_opts() + driver_opts()
