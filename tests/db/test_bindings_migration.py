"""Migration 0002 moves each port's binding into port_bindings, on every backend.

Also: the database itself refuses a second ACTIVE binding of a port, and two
activations racing on one port leave exactly one ACTIVE binding.
"""

from __future__ import annotations

import datetime
import json
import threading

import pytest
import sqlalchemy as sa
from oslo_db import exception as db_exc

from naas_lib import NetworkService
from naas_lib import exceptions as exc
from naas_lib.context import RequestContext
from naas_lib.db import migration, models

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0)
ADMIN = RequestContext(project_id="admin", user_id="admin", roles=["admin"], is_admin=True)


def _row(table: str, engine: sa.engine.Engine, **values) -> None:
    meta = sa.MetaData()
    t = sa.Table(table, meta, autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(t.insert().values(**values))


def test_existing_bindings_become_active_rows(db_url):
    engine = sa.create_engine(db_url)
    try:
        migration.upgrade(engine, "0001_initial")
        _row("networks", engine, id="n1", project_id="p", name="", description="",
             admin_state_up=True, status="ACTIVE", shared=False, mtu=1450,
             network_type="local", revision_number=1, created_at=NOW, updated_at=NOW)
        common = dict(project_id="p", network_id="n1", name="", description="",
                      admin_state_up=True, status_reason=None, device_id="",
                      device_owner="", revision_number=1, created_at=NOW, updated_at=NOW)
        _row("ports", engine, id="bound", mac_address="fa:16:3e:00:00:01", status="ACTIVE",
             binding_host_id="h1", binding_profile='{"netns": "g1"}', binding_vif_type="tap",
             binding_vif_details='{"devname": "tapbound"}', **common)
        _row("ports", engine, id="free", mac_address="fa:16:3e:00:00:02", status="DOWN",
             binding_host_id=None, binding_profile="{}", binding_vif_type="unbound",
             binding_vif_details="{}", **common)
        migration.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(models.PortBinding.__table__)
                                .order_by("port_id")).all()
        assert [(r.port_id, r.host, r.status, bool(r.active), r.vif_type) for r in rows] == [
            ("bound", "h1", "ACTIVE", True, "tap"), ("free", "", "ACTIVE", True, "unbound")]
        with NetworkService.from_settings(database_url=db_url) as svc:
            bound = svc.get_port(ADMIN, "bound")
            assert (bound.binding_host_id, bound.binding_vif_type) == ("h1", "tap")
            assert dict(bound.binding_profile) == {"netns": "g1"}
            assert json.loads(json.dumps(dict(bound.binding_vif_details))) == {
                "devname": "tapbound"}
            assert svc.get_port(ADMIN, "free").binding_host_id is None
            assert [p.id for p in svc.list_ports(ADMIN, binding_host_id="h1")] == ["bound"]
        migration.downgrade(engine, "0001_initial")
        with engine.connect() as conn:
            back = conn.execute(sa.text(
                "SELECT id, binding_host_id, binding_vif_type FROM ports ORDER BY id")).all()
        assert [tuple(r) for r in back] == [("bound", "h1", "tap"), ("free", None, "unbound")]
    finally:
        engine.dispose()


@pytest.fixture
def svc(db_url):
    with NetworkService.from_settings(database_url=db_url, create_schema=True) as s:
        yield s


def test_database_refuses_two_active_bindings(svc):
    net = svc.create_network(ADMIN, network_type="local")
    port = svc.create_port(ADMIN, network_id=net.id, binding_host_id="h1")
    svc.create_port_binding(ADMIN, port.id, "h2")
    with pytest.raises(db_exc.DBDuplicateEntry), svc.db.writer() as session:
        session.execute(sa.update(models.PortBinding).where(
            models.PortBinding.port_id == port.id, models.PortBinding.host == "h2")
            .values(active=True))


def test_racing_activations_leave_one_active_binding(svc):
    net = svc.create_network(ADMIN, network_type="local")
    port = svc.create_port(ADMIN, network_id=net.id, binding_host_id="h1")
    for host in ("h2", "h3"):
        svc.create_port_binding(ADMIN, port.id, host)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def activate(host: str) -> None:
        barrier.wait()
        try:
            svc.activate_port_binding(ADMIN, port.id, host)
        except exc.NaasError as e:
            errors.append(e)

    threads = [threading.Thread(target=activate, args=(h,)) for h in ("h2", "h3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    bindings = svc.list_port_bindings(ADMIN, port.id)
    assert [b.status for b in bindings].count("ACTIVE") == 1
    assert len(bindings) == 3
    active = next(b.host for b in bindings if b.status == "ACTIVE")
    assert svc.get_port(ADMIN, port.id).binding_host_id == active
