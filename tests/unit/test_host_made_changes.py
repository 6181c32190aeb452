"""What hosts write: statuses (announced, typed for a missing port) and their own record."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from naas_lib import NetworkService, RequestContext, events
from naas_lib import exceptions as exc
from naas_lib.cli import main
from naas_lib.db import models
from tests.support.cost import count_cost
from tests.support.fake_driver import FakeDriver

ADMIN = RequestContext(project_id="admin", roles=["admin"])


def test_set_port_status_on_a_missing_port_is_port_not_found(service):
    with pytest.raises(exc.PortNotFound):
        service.set_port_status("0b7c9a55-0000-4000-8000-000000000000", "ACTIVE")


def test_a_status_the_host_changes_is_announced_as_a_port_update(make_service):
    svc = make_service(host="h1")
    heard = []
    svc.events.subscribe(lambda r, e, t, p: heard.append((p.states[0].status,
                                                          p.states[1].status)),
                         events.PORT, events.AFTER_UPDATE)
    net = svc.create_network(ADMIN)
    port = svc.create_port(ADMIN, network_id=net.id)
    svc.attach_port(ADMIN, port.id, "vif-1")  # plugged here: DOWN -> BUILD -> ACTIVE
    assert heard == [("BUILD", "ACTIVE")]
    svc.set_port_status(port.id, "ACTIVE")  # no change, nothing announced
    assert heard == [("BUILD", "ACTIVE")]


def test_a_sync_round_announces_the_statuses_it_records(make_service, tmp_path):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    api = make_service(database_url=url)
    net = api.create_network(ADMIN)
    port = api.create_port(ADMIN, network_id=net.id)
    api.attach_port(ADMIN, port.id, "vif-1", host="h1")  # bound to h1, BUILD
    host = make_service(database_url=url, host="h1")
    heard = []
    host.events.subscribe(lambda r, e, t, p: heard.append((p.resource_id, p.states[1].status)),
                          events.PORT, events.AFTER_UPDATE)
    host.sync()
    assert heard == [(port.id, "ACTIVE")]


def test_naas_sync_refuses_a_driver_other_than_the_hosts_and_leaves_its_record(
        tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    host = NetworkService.from_settings(database_url=url, host="h1", driver="fake",
                                        driver_cls=FakeDriver)
    try:
        net = host.create_network(ADMIN, network_type="local")
        port = host.create_port(ADMIN, network_id=net.id)
        host.attach_port(ADMIN, port.id, "vif-1")
        # An operator forgets the host's configuration: the CLI would use noop.
        assert main.main(["--database-url", url, "sync", "--host", "h1"]) == 2
        err = capsys.readouterr().err
        assert "registered with driver 'fake'" in err and "'noop'" in err
        with host.db.reader() as session:
            recorded = session.execute(sa.select(models.Host.driver)
                                       .where(models.Host.name == "h1")).scalar_one()
        assert recorded == "fake"
        assert host.get_port(ADMIN, port.id).status == "ACTIVE"
    finally:
        host.close()


def test_plug_ports_writes_every_status_in_one_transaction_and_announces_each(make_service,
                                                                            tmp_path):
    """A boot's NICs: plugged from the objects given, statuses in one write (issue 13)."""
    svc = make_service(database_url=f"sqlite:///{tmp_path}/naas.sqlite", host="h1",
                       driver="fake", driver_cls=FakeDriver, tenant_network_types=["local"])
    net = svc.create_network(ADMIN)
    ports = svc.create_ports(ADMIN, [{"network_id": net.id}] * 3,
                             attachments=[{"instance_id": "vm-1"}] * 3)
    heard = []
    svc.events.subscribe(lambda r, e, t, p: heard.append((p.resource_id, p.states[1].status)),
                         events.PORT, events.AFTER_UPDATE)
    with count_cost(svc.db.engine) as cost:
        plugged = svc.plug_ports([(p, net) for p in ports])
    writes = [s for s in cost.statements if s.startswith("BEGIN IMMEDIATE")]
    assert len(writes) == 1, cost
    assert [p.status for p in plugged] == ["ACTIVE"] * 3
    assert [svc.get_port(ADMIN, p.id).status for p in ports] == ["ACTIVE"] * 3
    assert heard == [(p.id, "ACTIVE") for p in ports]


def test_plug_ports_records_each_port_as_the_driver_left_it(make_service):
    """A batch is handed to the driver whole (``plug_many``: one port-security change):
    a port after a failed one is still plugged, so it reads ACTIVE, and the failed one ERROR."""
    svc = make_service(host="h1", driver="fake", driver_cls=FakeDriver,
                       tenant_network_types=["local"])
    net = svc.create_network(ADMIN)
    ports = svc.create_ports(ADMIN, [{"network_id": net.id}] * 3,
                             attachments=[{"instance_id": "vm-1"}] * 3)
    FakeDriver.on("h1").fail_on_plug = 2
    with pytest.raises(exc.DriverError) as e:
        svc.plug_ports([(p, net) for p in ports])
    assert e.value.kwargs["port_id"] == ports[1].id
    assert "tap device could not be created" in e.value.message
    statuses = [(svc.get_port(ADMIN, p.id).status, svc.get_port(ADMIN, p.id).status_reason)
                for p in ports]
    assert statuses == [("ACTIVE", None), ("ERROR", "OSError: tap device could not be created"),
                        ("ACTIVE", None)]
    assert [svc.driver.is_plugged(p, net) for p in ports] == [True, False, True]
