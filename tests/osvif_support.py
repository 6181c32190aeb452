"""os-vif initialized with the naas plugin, for the unit and functional tiers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import os_vif
from oslo_config import cfg
from stevedore import _cache as stevedore_cache

from naas_lib.virt.osvif_plugin import NaasPlugin


@contextlib.contextmanager
def naas_plugin(monkeypatch, cache_dir: str, connection: str, host: str,
                driver: str) -> Iterator[NaasPlugin]:
    """The plugin os-vif loaded, configured in ``[os_vif_naas]``; closed afterwards.

    stevedore's entry-point cache is per user and can be stale while the
    package is reinstalled next to a running test; a private one is read here.
    """
    monkeypatch.setattr(stevedore_cache, "get_group_all",
                        stevedore_cache.Cache(cache_dir).get_group_all)
    os_vif.initialize(reset=True)
    overrides = {"connection": connection, "host": host, "driver": driver}
    for key, value in overrides.items():
        cfg.CONF.set_override(key, value, group="os_vif_naas")
    obj = os_vif._EXT_MANAGER["naas"].obj
    try:
        yield obj
    finally:
        obj.close()
        for key in overrides:
            cfg.CONF.clear_override(key, group="os_vif_naas")
