"""The one fake dataplane driver of the test suite: records everything, fails on demand.

:class:`FakeDriver` is the noop driver (a port is "plugged" when recorded in
``plugged``) with what tests need on top:

* **records calls**: ``calls`` lists every two-phase hook, ``plug``,
  ``unplug`` and ``sync`` as ``(method, resource id)``; ``plugs`` lists
  ``(port id, admin state up)`` per plug and ``subnets_seen`` the subnet ids
  each port's last plug received;
* **fails on demand**: ``fail_next[method] = exception`` makes the next call
  of that method raise it (once); ``fail_on_plug = N`` makes the Nth plug
  raise ``OSError`` (``KeyboardInterrupt`` with ``interrupt = True``);
  ``sync_errors = N`` makes the next N syncs raise; ``failed_ports`` maps a
  port id to the reason ``sync`` reports it failed with; ``report_active =
  False`` makes ``sync`` report no port active;
* **lets a test wait for reconciliation rounds** instead of sleeping:
  ``syncs_finished`` counts finished ``sync`` calls (failed ones included) and
  :meth:`wait_for_syncs` blocks until a given number have finished;
* **a host like the Linux bridge driver's on these machines**: local, flat
  and VXLAN (no VLAN), physical network ``physnet1``, a VXLAN endpoint from
  the ``[fake] endpoint`` option (VXLAN is refused without one), an MTU limit
  from ``[fake] max_mtu``; ``refused`` holds network ids it refuses outright.

Use it with ``make_service(host=..., driver_cls=FakeDriver, fake={...})``
and find a service's instance with :meth:`FakeDriver.on` (by host name), so
a test never reaches into the service for its driver. Instances leave the
registry when the service closes them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from oslo_config import cfg

from naas_lib import constants, objects
from naas_lib.drivers import base
from naas_lib.drivers.noop import NoopDriver

#: The driver's two-phase hooks; the fake records each and can fail it on demand.
HOOKS = tuple(f"{verb}_{resource}_{phase}"
              for resource in ("network", "port")
              for verb in ("create", "update", "delete")
              for phase in ("precommit", "postcommit"))


class FakeDriver(NoopDriver):
    """A recording, fault-injecting noop driver; see the module docstring."""

    name = "fake"
    #: Open instances, oldest first (removed by :meth:`close`).
    open_instances: ClassVar[list[FakeDriver]] = []

    def __init__(self, conf: Any, host: str | None) -> None:
        super().__init__(conf, host)
        self.calls: list[tuple[str, str]] = []
        self.plugs: list[tuple[str, bool]] = []
        self.subnets_seen: dict[str, list[str]] = {}  # port id -> subnet ids of its last plug
        self.fail_next: dict[str, BaseException] = {}
        self.fail_on_plug: int | None = None
        self.interrupt = False
        self.refused: set[str] = set()
        self.sync_errors = 0
        self.failed_ports: dict[str, str] = {}
        self.report_active = True
        self.syncs_finished = 0
        self._synced = threading.Condition()
        FakeDriver.open_instances.append(self)

    @classmethod
    def on(cls, host: str | None) -> FakeDriver:
        """The newest open fake driver of ``host`` (None: a service without a host)."""
        for driver in reversed(cls.open_instances):
            if driver.host == host:
                return driver
        raise LookupError(f"no open FakeDriver for host {host!r}")

    @classmethod
    def get_opts(cls) -> list[cfg.Opt]:
        return [cfg.StrOpt("endpoint", help="VXLAN endpoint; VXLAN is refused without it"),
                cfg.IntOpt("max_mtu", default=9000)]

    def _record(self, method: str, resource_id: str) -> None:
        self.calls.append((method, resource_id))
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error

    # -- negotiation ---------------------------------------------------------

    def endpoint(self) -> str | None:
        return self.conf.endpoint

    def physical_networks(self) -> list[str]:
        return ["physnet1"]

    def describe(self) -> base.Capabilities:
        types = {constants.TYPE_LOCAL, constants.TYPE_FLAT, constants.TYPE_VXLAN}
        return base.Capabilities(network_types=frozenset(types),
                                 vif_types=frozenset({constants.VIF_TYPE_TAP}),
                                 max_mtu=self.conf.max_mtu, port_security=True)

    def check_network(self, network: objects.Network) -> str | None:
        if network.id in self.refused:
            return "this host cannot realize it"
        if network.network_type == constants.TYPE_VXLAN and not self.conf.endpoint:
            return f"vxlan needs the [{self.name}] endpoint option"
        return super().check_network(network)

    @classmethod
    def bind_port(cls, port: objects.Port, network: objects.Network,
                  host: str | None = None) -> base.Binding:
        """The noop binding, plus who bound it for which host."""
        binding = super().bind_port(port, network, host)
        return base.Binding(vif_type=binding.vif_type,
                            vif_details={**binding.vif_details, "bound_by": cls.name,
                                         "host": host})

    # -- host side -------------------------------------------------------------

    def plug(self, port: objects.Port, network: objects.Network,
             subnets: Sequence[objects.Subnet] = ()) -> None:
        self.subnets_seen[port.id] = [s.id for s in subnets]
        self.plugs.append((port.id, port.admin_state_up and network.admin_state_up))
        self._record("plug", port.id)
        if self.fail_on_plug == len(self.plugs):
            if self.interrupt:
                raise KeyboardInterrupt()
            raise OSError("tap device could not be created")
        super().plug(port, network, subnets=subnets)

    def unplug(self, port: objects.Port, network: objects.Network) -> None:
        self._record("unplug", port.id)
        super().unplug(port, network)

    def sync(self, desired: base.DesiredState) -> base.SyncReport:
        try:
            self._record("sync", desired.host)
            if self.sync_errors:
                self.sync_errors -= 1
                raise RuntimeError("netlink went away")
            report = super().sync(desired)
            for port_id, reason in self.failed_ports.items():
                if port_id in report.active_ports:
                    report.active_ports.remove(port_id)
                    report.failed_ports[port_id] = reason
            if not self.report_active:
                report.active_ports.clear()
            return report
        finally:
            with self._synced:
                self.syncs_finished += 1
                self._synced.notify_all()

    def syncs_started(self) -> int:
        """How many ``sync`` calls have begun (each reads the desired state first)."""
        return sum(1 for method, _ in self.calls if method == "sync")

    def wait_for_syncs(self, count: int, timeout: float = 30.0) -> bool:
        """Block until ``count`` syncs have finished; False when ``timeout`` passed first.

        The timeout only guards against a hang: a test states how many rounds
        something may take, not how many seconds.
        """
        with self._synced:
            return self._synced.wait_for(lambda: self.syncs_finished >= count, timeout)

    def close(self) -> None:
        if self in FakeDriver.open_instances:
            FakeDriver.open_instances.remove(self)
        super().close()


def _recording_hook(method: str):
    def hook(self: FakeDriver, context: Any) -> None:
        self._record(method, context.current.id)

    hook.__name__ = hook.__qualname__ = method
    hook.__doc__ = f"Record ``{method}``; raise what ``fail_next[{method!r}]`` holds."
    return hook


for _method in HOOKS:
    setattr(FakeDriver, _method, _recording_hook(_method))
