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
        self._portsec = None

    def describe(self) -> base.Capabilities:
        return base.Capabilities(
            network_types=frozenset(constants.NETWORK_TYPES),
            vif_types=frozenset({constants.VIF_TYPE_NOOP, constants.VIF_TYPE_TAP}),
            max_mtu=65535,
            port_security=True,
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

    @property
    def portsec(self):
        """Port security with a recording runner, made on first use (a CLI listing never
        loads the Linux bridge modules)."""
        if self._portsec is None:
            from naas_lib.drivers.linuxbridge.portsec import PortSecurity
            from naas_lib.drivers.linuxbridge.portsec_wiring import (
                HostPortSecurity,
                RecordingRunner,
            )
            self._portsec = HostPortSecurity(PortSecurity(runner=RecordingRunner()))
        return self._portsec

    @property
    def nft(self):
        """The nft scripts port security would run on a Linux bridge host (``.scripts``)."""
        return self.portsec.portsec._run

    def plug(self, port: objects.Port, network: objects.Network, subnets=()) -> None:
        self.portsec.apply(port, _device(port))
        self.plugged[port.id] = network.id

    def plug_many(self, items) -> dict[str, Exception]:
        """Record the ports; their port security as one transaction (one script).

        A subclass with its own ``plug`` gets it called for each port.
        """
        items = list(items)
        if type(self).plug is not NoopDriver.plug:
            return super().plug_many(items)
        try:
            self.portsec.apply_many([(port, _device(port)) for port, _n, _s in items])
        except Exception as e:  # noqa: BLE001 - reported per port, as a real host would
            return {port.id: e for port, _n, _s in items}
        for port, network, _subnets in items:
            self.plugged[port.id] = network.id
        return {}

    def unplug(self, port: objects.Port, network: objects.Network) -> None:
        self.portsec.remove(_device(port))
        self.plugged.pop(port.id, None)

    def update_security_group(self, state: base.SecurityGroupState) -> None:
        self.portsec.update_group(state)

    def update_security_group_members(self, group_id: str, addresses) -> None:
        self.portsec.update_members(group_id, addresses)

    def prepare_security_groups(self, states) -> None:
        self.portsec.prepare(states)

    def security_group_revisions(self) -> dict[str, int]:
        return dict(self.portsec.revisions)

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
        self.portsec.sync(desired, [(p, _device(p)) for p, _ in desired.ports])
        return report


def _device(port: objects.Port) -> str:
    return (constants.TAP_PREFIX + port.id)[: constants.IFNAMSIZ]
