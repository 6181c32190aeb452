"""What a driver with host-side network services (a DHCP responder) is told, and what it costs.

A plug, detach or delete made by this process hands the driver the network's
state changed by those ports, without reading every port of the network again
(a boot storm's plugs would otherwise cost more with every port). What the
driver is told must equal a full read of the database, and a sync round makes
the next refresh read afresh, so a change made by another process reaches the
driver within one round.
"""

from __future__ import annotations

import pytest

from naas_lib import RequestContext
from naas_lib.drivers import base
from tests.support.cost import count_cost
from tests.support.fake_driver import FakeDriver

CTX = RequestContext(project_id="p1", user_id="u1")
HOST = "refresh-host"


class RefreshingDriver(FakeDriver):
    """A fake driver with a network refresh (as the Linux bridge driver's DHCP has)."""

    name = "refreshing"

    def __init__(self, conf, host) -> None:
        super().__init__(conf, host)
        self.told: list[tuple[str, dict[str, tuple]]] = []

    def refresh_network(self, network_id: str, desired: base.DesiredState) -> None:
        self.told.append((network_id, {
            p.id: (p.mac_address, tuple(f.ip_address for f in p.fixed_ips))
            for p, _n in desired.ports}))


@pytest.fixture
def host(make_service, tmp_path):
    svc = make_service(database_url=f"sqlite:///{tmp_path}/refresh.sqlite", host=HOST,
                       driver=RefreshingDriver.name, driver_cls=RefreshingDriver,
                       tenant_network_types=["local"])
    net = svc.create_network(CTX, name="n")
    svc.create_subnet(CTX, network_id=net.id, cidr="10.5.0.0/24")
    return svc, net, RefreshingDriver.on(HOST)


def _full(svc, network_id):
    """The network's ports as the database has them for this host (what sync reads)."""
    return {p.id: (p.mac_address, tuple(f.ip_address for f in p.fixed_ips))
            for p, n in svc.desired_state().ports if n.id == network_id}


def _plug_new(svc, net):
    port = svc.create_port(CTX, network_id=net.id)
    svc.attach_port(CTX, port.id, interface_id=port.id, instance_id="vm", host=HOST)
    return port


def test_each_plug_tells_the_driver_what_a_full_read_would(host):
    svc, net, driver = host
    for _ in range(4):
        _plug_new(svc, net)
        assert driver.told[-1] == (net.id, _full(svc, net.id))
    assert len(driver.told[-1][1]) == 4


def test_a_plug_does_not_read_the_ports_of_its_network_again(host):
    svc, net, driver = host
    _plug_new(svc, net)  # the first plug reads the network's state once
    costs = []
    for count in (1, 20):
        while len(driver.told[-1][1]) < count:
            _plug_new(svc, net)
        port = svc.create_port(CTX, network_id=net.id)
        with count_cost(svc.db.engine) as cost:
            svc.attach_port(CTX, port.id, interface_id=port.id, instance_id="vm", host=HOST)
        costs.append(cost)
    assert costs[1].statements == costs[0].statements
    assert len(driver.told[-1][1]) == 21


def test_detach_and_delete_take_the_ports_out_of_what_the_driver_is_told(host):
    svc, net, driver = host
    ports = [_plug_new(svc, net) for _ in range(3)]
    svc.detach_port(CTX, ports[0].id)
    assert driver.told[-1] == (net.id, _full(svc, net.id))
    assert ports[0].id not in driver.told[-1][1]
    bound = svc.create_port(CTX.elevated(), network_id=net.id, binding_host_id=HOST)  # unattached
    svc.plug_port(bound.id)
    assert bound.id in driver.told[-1][1]
    svc.delete_ports(CTX, [bound.id])
    assert driver.told[-1] == (net.id, _full(svc, net.id))
    assert set(driver.told[-1][1]) == {ports[1].id, ports[2].id}


def test_a_change_by_another_process_reaches_the_driver_after_a_sync_round(host, make_service,
                                                                           tmp_path):
    svc, net, driver = host
    mine = _plug_new(svc, net)
    api = make_service(database_url=f"sqlite:///{tmp_path}/refresh.sqlite")  # no host
    subnet_id = mine.fixed_ips[0].subnet_id
    api.update_port(CTX, mine.id, fixed_ips=[{"subnet_id": subnet_id,
                                              "ip_address": "10.5.0.200"}])
    svc.sync()
    _plug_new(svc, net)
    assert driver.told[-1] == (net.id, _full(svc, net.id))
    assert driver.told[-1][1][mine.id][1] == ("10.5.0.200",)
