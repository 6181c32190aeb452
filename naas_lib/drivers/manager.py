"""Load the one configured driver from the ``naas_lib.drivers`` entry points."""

from __future__ import annotations

import inspect
import logging
import warnings
from importlib import metadata
from typing import Any

from oslo_config import cfg
from stevedore import driver as stevedore_driver

from naas_lib import exceptions as exc
from naas_lib import objects
from naas_lib.drivers import base

LOG = logging.getLogger(__name__)

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
    group = register_driver_opts(conf, name, cls)
    group_conf = conf[group] if group else None
    try:
        driver = cls(group_conf, host)
    except exc.NaasError:
        raise
    except Exception as e:
        raise exc.DriverNotFound(
            name=name, reason=f"{type(e).__name__}: {e}",
            installed=", ".join(installed_drivers()),
        ) from e
    return adapt_plug(driver)


def register_driver_opts(conf: cfg.ConfigOpts, name: str,
                         driver_cls: type[base.Driver] | None = None) -> str | None:
    """Register driver ``name``'s options in its own group; the group's name (or None).

    The one place that decides a driver's option group: the service, the
    CLI and the sample-config generator all come here.
    """
    cls = driver_cls or load_driver_class(name)
    opts = cls.get_opts()
    if not opts:
        return None
    group = option_group(cls, name)
    conf.register_opts(opts, group=group)
    return group


def option_group(cls: type[base.Driver], name: str) -> str:
    """The option group of a driver class loaded as ``name``: its own name."""
    return cls.name if cls.name != "base" else name


def has_pure_binding(cls: type[base.Driver]) -> bool:
    """Whether ``cls.bind_port`` is the class-level (pure) form of the contract."""
    return isinstance(inspect.getattr_static(cls, "bind_port"), (classmethod, staticmethod))


def bind_for_host(driver: type[base.Driver] | base.Driver, port: objects.Port,
                  network: objects.Network, host: str | None) -> base.Binding:
    """``bind_port`` of a driver (class or instance) for ``host``, without building it.

    A driver written to the older contract (an instance method using
    ``self.host``) still binds for other hosts, with a DeprecationWarning.
    """
    cls = driver if isinstance(driver, type) else type(driver)
    if has_pure_binding(cls):
        return cls.bind_port(port, network, host)
    if not isinstance(driver, type):
        return driver.bind_port(port, network)
    warnings.warn(f"driver {cls.__name__}: bind_port should be a classmethod "
                  "(port, network, host); instance-method bind_port is deprecated",
                  DeprecationWarning, stacklevel=2)
    legacy: Any = cls.__new__(cls)
    base.Driver.__init__(legacy, None, host)
    return legacy.bind_port(port, network)


def takes_subnets(plug: Any) -> bool:
    """Whether a ``plug`` callable accepts the subnets argument of the current contract."""
    try:
        params = inspect.signature(plug).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in params)


def adapt_plug(driver: base.Driver) -> base.Driver:
    """Give a driver with the older two-argument ``plug`` the current three-argument shape."""
    legacy = driver.plug
    if takes_subnets(legacy):
        return driver
    warnings.warn(f"driver {type(driver).__name__}: plug(port, network) is deprecated; "
                  "accept plug(port, network, subnets)", DeprecationWarning, stacklevel=3)

    def plug(port: objects.Port, network: objects.Network,
             subnets: Any = ()) -> None:
        legacy(port, network)

    driver.plug = plug  # type: ignore[method-assign]
    return driver


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Every installed driver's options in its own group (``oslo.config.opts`` entry point).

    A driver that cannot be imported is left out with a warning, so one
    broken third-party package does not prevent the sample of the others.
    """
    out: list[tuple[str, list[cfg.Opt]]] = []
    for name in installed_drivers():
        try:
            cls = load_driver_class(name)
        except exc.DriverNotFound as e:
            LOG.warning("Driver %s left out of the sample: %s", name, e)
            continue
        opts = list(cls.get_opts())
        if opts:
            out.append((option_group(cls, name), opts))
    return out
