"""Security groups on SQLite file, PostgreSQL and MariaDB: constraints decide races."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from naas_lib import RequestContext
from naas_lib import exceptions as exc
from naas_lib.db import models


def _count(svc, model) -> int:
    with svc.db.reader() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def _race(n: int, call) -> tuple[list, list]:
    """Run ``call`` in ``n`` threads at once; (results, errors)."""
    start = threading.Barrier(n)
    results: list = []
    errors: list = []

    def run() -> None:
        start.wait()
        try:
            results.append(call())
        except Exception as e:  # collected for the assertions
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_concurrent_first_ports_make_one_default_group(db_service):
    ctx = RequestContext(project_id="race-project")
    net = db_service.create_network(ctx, name="n")
    ports, errors = _race(4, lambda: db_service.create_port(ctx, network_id=net.id))
    assert not errors and len(ports) == 4
    assert len({p.security_groups for p in ports}) == 1
    assert [g.name for g in db_service.list_security_groups(ctx)] == ["default"]
    assert _count(db_service, models.DefaultSecurityGroup) == 1


def test_concurrent_duplicate_rules_one_wins(db_service, ctx):
    web = db_service.create_security_group(ctx, name="web")

    def add():
        return db_service.create_security_group_rule(
            ctx, security_group_id=web.id, direction="ingress", protocol="tcp",
            port_range_min=22, port_range_max=22)

    made, errors = _race(4, add)
    assert len(made) == 1
    assert len(errors) == 3 and all(isinstance(e, exc.SecurityGroupRuleExists) for e in errors)
    assert made[0].id in errors[0].message


def test_port_deletion_frees_its_group_and_pairs(db_service, ctx):
    net = db_service.create_network(ctx, name="n")
    db_service.create_subnet(ctx, network_id=net.id, cidr="10.4.0.0/24")
    web = db_service.create_security_group(ctx, name="web")
    port = db_service.create_port(ctx, network_id=net.id, security_groups=[web.id],
                                  allowed_address_pairs=[{"ip_address": "10.4.0.0/28"}])
    with pytest.raises(exc.SecurityGroupInUse):
        db_service.delete_security_group(ctx, web.id)
    db_service.delete_port(ctx, port.id)
    assert _count(db_service, models.AllowedAddressPair) == 0
    db_service.delete_security_group(ctx, web.id)
    # Ports that go with their network free their groups too.
    port = db_service.create_port(ctx, network_id=net.id)
    db_service.delete_network(ctx, net.id)
    assert _count(db_service, models.PortSecurityGroup) == 0
    db_service.delete_security_group(ctx, port.security_groups[0])
