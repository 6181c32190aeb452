"""Contract checks for authors of third-party drivers.

The service relies on rules no type checker sees: ``plug`` and ``unplug``
are idempotent, ``is_plugged`` tells the truth, ``sync`` converges (a second
round with nothing to do changes nothing) and removes what is no longer
wanted, and ``bind_port`` is pure. :func:`check_driver_contract` exercises a
driver instance on one port and raises :class:`ContractViolation` naming the
rule a driver broke, starting with the contract's current shape (a
classmethod ``bind_port``, a ``plug`` that takes the subnets). Call it from
the driver's own tests, with a port and network made through a
:class:`naas_lib.NetworkService` (see ``doc/source/drivers.rst``). Only the
public driver contract is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from naas_lib import objects
from naas_lib.drivers import base
from naas_lib.drivers import manager as driver_manager


class ContractViolation(AssertionError):
    """A driver broke a rule of the driver contract."""


def _expect(condition: bool, rule: str) -> None:
    if not condition:
        raise ContractViolation(rule)


def _repeat(rule: str, call: Callable[[], object]) -> None:
    """Run a call that must be a no-op now; an exception breaks ``rule``."""
    try:
        call()
    except Exception as e:
        raise ContractViolation(f"{rule}: it raised {type(e).__name__}: {e}") from e


def _plug(driver: base.Driver, port: objects.Port, network: objects.Network,
          subnets: Sequence[objects.Subnet]) -> None:
    """Plug the way the service does: always with the port's subnets."""
    driver.plug(port, network, subnets)


def _desired(driver: base.Driver, ports: Sequence[tuple[objects.Port, objects.Network]],
             subnets: Sequence[objects.Subnet]) -> base.DesiredState:
    return base.DesiredState(host=driver.host or "", ports=list(ports), peers={},
                             subnets={s.id: s for s in subnets})


def check_current_shape(driver: base.Driver) -> None:
    """``bind_port`` is a classmethod and ``plug`` takes the subnets (today's contract).

    The service still loads a driver of the older shape (an instance-method
    ``bind_port``, a two-argument ``plug``) with a DeprecationWarning; this
    check tells its author what to change.
    """
    cls = type(driver)
    _expect(driver_manager.has_pure_binding(cls),
            f"bind_port of {cls.__name__} must be a classmethod bind_port(cls, port, "
            "network, host), pure: the instance-method form is deprecated")
    _expect(driver_manager.takes_subnets(driver.plug),
            f"plug of {cls.__name__} must accept (port, network, subnets): "
            "the two-argument form is deprecated")


def check_bind_port_is_pure(driver: base.Driver, port: objects.Port,
                            network: objects.Network) -> base.Binding:
    """The class binds for the driver's host exactly as the configured instance does.

    A process binding a port for another host calls ``bind_port`` on the
    class that host recorded, without configuration or sockets.
    """
    binding = driver.bind_port(port, network, driver.host)
    try:
        again = type(driver).bind_port(port, network, driver.host)
    except Exception as e:
        raise ContractViolation(f"bind_port is not pure: on the class it raised "
                                f"{type(e).__name__}: {e}") from e
    _expect(isinstance(binding, base.Binding), f"bind_port returned {binding!r}")
    _expect(again == binding, f"bind_port is not pure: {again} instead of {binding}")
    return binding


def check_driver_contract(driver: base.Driver, port: objects.Port, network: objects.Network,
                          subnets: Sequence[objects.Subnet] = ()) -> None:
    """Exercise plug, unplug, is_plugged and sync on ``port``; raise on a broken rule.

    Leaves the port unplugged. ``driver`` is an instance for the port's host;
    ``subnets`` are those of the port's fixed IPs.
    """
    check_current_shape(driver)
    check_bind_port_is_pure(driver, port, network)
    _plug(driver, port, network, subnets)
    _expect(driver.is_plugged(port, network), "is_plugged is False after plug")
    _repeat("plug is not idempotent", lambda: _plug(driver, port, network, subnets))
    _expect(driver.is_plugged(port, network), "is_plugged is False after a second plug")
    driver.unplug(port, network)
    _expect(not driver.is_plugged(port, network), "is_plugged is True after unplug")
    _repeat("unplug is not idempotent", lambda: driver.unplug(port, network))

    wanted = _desired(driver, [(port, network)], subnets)
    first = driver.sync(wanted)
    _expect(port.id in first.active_ports, "sync did not report a port it realized as active")
    _expect(driver.is_plugged(port, network), "is_plugged is False after sync realized it")
    second = driver.sync(wanted)
    _expect(not second.changed, f"a second sync with nothing to do changed {second}")
    _expect(port.id in second.active_ports, "a second sync did not report the port active")

    nothing = _desired(driver, [], subnets)
    driver.sync(nothing)
    _expect(not driver.is_plugged(port, network), "sync left a port that is no longer wanted")
    last = driver.sync(nothing)
    _expect(not last.changed, f"a second sync of an empty host changed {last}")
