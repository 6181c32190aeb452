"""Load the one configured driver from the ``naas_lib.drivers`` entry points."""

from __future__ import annotations

from importlib import metadata

from oslo_config import cfg
from stevedore import driver as stevedore_driver

from naas_lib import exceptions as exc
from naas_lib.drivers import base

NAMESPACE = "naas_lib.drivers"


def installed_drivers() -> list[str]:
    """Names of installed drivers, read from entry points without importing them."""
    return sorted({ep.name for ep in metadata.entry_points(group=NAMESPACE)})


def load_driver_class(name: str) -> type[base.Driver]:
    """The class behind entry point ``name``; a typed error names what is installed."""
    try:
        mgr = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=False, on_load_failure_callback=_reraise
        )
    except exc.DriverNotFound:
        raise
    except Exception as e:  # NoMatches, MultipleMatches
        raise exc.DriverNotFound(
            name=name, reason=str(e) or type(e).__name__,
            installed=", ".join(installed_drivers()) or "none",
        ) from e
    cls = mgr.driver
    if not (isinstance(cls, type) and issubclass(cls, base.Driver)):
        raise exc.DriverNotFound(
            name=name, reason=f"{cls!r} is not a naas_lib.drivers.base.Driver",
            installed=", ".join(installed_drivers()),
        )
    return cls


def _reraise(_manager, entrypoint, error: Exception) -> None:
    raise exc.DriverNotFound(
        name=entrypoint.name, reason=f"{type(error).__name__}: {error}",
        installed=", ".join(installed_drivers()),
    ) from error


def build_driver(conf: cfg.ConfigOpts, name: str, host: str | None,
                 driver_cls: type[base.Driver] | None = None) -> base.Driver:
    """Register the driver's options in its own group and instantiate it.

    ``driver_cls`` injects a class directly (tests, out-of-tree callers),
    skipping the entry-point lookup.
    """
    cls = driver_cls or load_driver_class(name)
    group = cls.name if cls.name != "base" else name
    opts = cls.get_opts()
    if opts:
        conf.register_opts(opts, group=group)
    group_conf = conf[group] if opts else None
    try:
        return cls(group_conf, host)
    except exc.NaasError:
        raise
    except Exception as e:
        raise exc.DriverNotFound(
            name=name, reason=f"{type(e).__name__}: {e}",
            installed=", ".join(installed_drivers()),
        ) from e
