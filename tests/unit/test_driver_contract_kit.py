"""naas_lib.testing: the contract checks a third-party driver author runs.

Drivers that keep the contract pass; each broken rule is named.
"""

from __future__ import annotations

import pytest

from naas_lib import testing
from naas_lib.drivers import base
from naas_lib.drivers.noop import NoopDriver
from tests.support.fake_driver import FakeDriver


@pytest.fixture
def port_net_subnets(service, ctx):
    net = service.create_network(ctx, name="n")
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    port = service.create_port(ctx, network_id=net.id)
    return port, service.get_network(ctx, net.id), [sub]


def test_the_noop_and_fake_drivers_keep_the_contract(make_service, port_net_subnets):
    port, net, subnets = port_net_subnets
    testing.check_driver_contract(NoopDriver(None, "h1"), port, net, subnets)
    make_service(host="h1", driver_cls=FakeDriver, fake={"endpoint": "192.0.2.1"})
    fake = FakeDriver.on("h1")
    testing.check_driver_contract(fake, port, net, subnets)
    assert not fake.is_plugged(port, net)  # left unplugged
    assert fake.subnets_seen[port.id] == [s.id for s in subnets]
    assert [m for m, _ in fake.calls].count("sync") == 4


class StrictUnplug(NoopDriver):
    def unplug(self, port, network):
        del self.plugged[port.id]  # KeyError the second time


class InstanceBinding(NoopDriver):
    def bind_port(self, port, network):  # the deprecated shape, reading configuration
        return base.Binding(vif_type="tap", vif_details={"bridge": self.conf["bridge"]})


class TwoArgumentPlug(NoopDriver):
    def plug(self, port, network):  # the deprecated shape
        super().plug(port, network)


class ClockedBinding(NoopDriver):
    calls = 0

    @classmethod
    def bind_port(cls, port, network, host=None):  # not pure: depends on call count
        cls.calls += 1
        return base.Binding(vif_type="tap", vif_details={"n": cls.calls})


class RestlessSync(NoopDriver):
    def sync(self, desired):
        report = super().sync(desired)
        report.fixed.append("something, every time")
        return report


class Hoarder(NoopDriver):
    def sync(self, desired):  # realizes what is wanted, never removes anything
        report = base.SyncReport()
        for port, net in desired.ports:
            if port.id not in self.plugged:
                self.plugged[port.id] = net.id
                report.created.append(port.id)
            report.active_ports.append(port.id)
        return report


class Liar(NoopDriver):
    def is_plugged(self, port, network):
        return True


@pytest.mark.parametrize(("driver", "rule"), [
    (StrictUnplug(None, "h1"), "unplug is not idempotent: it raised KeyError"),
    (InstanceBinding({"bridge": "br0"}, "h1"), "bind_port of InstanceBinding must be a classm"),
    (TwoArgumentPlug(None, "h1"), "plug of TwoArgumentPlug must accept"),
    (ClockedBinding(None, "h1"), "bind_port is not pure"),
    (RestlessSync(None, "h1"), "a second sync with nothing to do changed"),
    (Hoarder(None, "h1"), "sync left a port that is no longer wanted"),
    (Liar(None, "h1"), "is_plugged is True after unplug"),
])
def test_a_broken_rule_is_named(driver, rule, port_net_subnets):
    with pytest.raises(testing.ContractViolation, match=rule):
        testing.check_driver_contract(driver, *port_net_subnets)
