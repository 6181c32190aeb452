"""A driver that records intent only: for unit tests and unprivileged hosts."""

from __future__ import annotations

from naas_lib import constants, objects
from naas_lib.drivers import base


class NoopDriver(base.Driver):
    """Every network type, no devices: a port is "plugged" when recorded as such."""

    name = "noop"

    def __init__(self, conf, host):
        super().__init__(conf, host)
        self.plugged: dict[str, str] = {}  # port id -> network id

    def describe(self) -> base.Capabilities:
        return base.Capabilities(
            network_types=frozenset(constants.NETWORK_TYPES),
            vif_types=frozenset({constants.VIF_TYPE_NOOP, constants.VIF_TYPE_TAP}),
            max_mtu=65535,
            port_security=False,
        )

    @classmethod
    def bind_port(cls, port: objects.Port, network: objects.Network,
                  host: str | None = None) -> base.Binding:
        return base.Binding(
            vif_type=constants.VIF_TYPE_TAP,
            vif_details={
                "devname": (constants.TAP_PREFIX + port.id)[: constants.NOVA_DEVNAME_LEN],
                "mtu": network.mtu,
                "bridge_name": None,
            },
        )

    def plug(self, port: objects.Port, network: objects.Network, subnets=()) -> None:
        self.plugged[port.id] = network.id

    def unplug(self, port: objects.Port, network: objects.Network) -> None:
        self.plugged.pop(port.id, None)

    def is_plugged(self, port: objects.Port, network: objects.Network) -> bool:
        return port.id in self.plugged

    def sync(self, desired: base.DesiredState) -> base.SyncReport:
        report = base.SyncReport()
        wanted = {port.id: net.id for port, net in desired.ports}
        for port_id in list(self.plugged):
            if port_id not in wanted:
                del self.plugged[port_id]
                report.removed.append(f"port {port_id}")
        for port, net in desired.ports:
            if port.id not in self.plugged:
                self.plugged[port.id] = net.id
                report.created.append(f"port {port.id}")
            report.active_ports.append(port.id)
        return report
