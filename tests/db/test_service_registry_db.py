"""Service registry on SQLite file, PostgreSQL and MariaDB: associations follow deletes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from naas_lib import exceptions as exc
from naas_lib.db import models


def _association_rows(svc) -> int:
    with svc.db.reader() as session:
        return session.scalar(sa.select(sa.func.count())
                              .select_from(models.ServiceNetworkAssociation))


def test_network_and_service_deletes_remove_associations(db_service, ctx):
    a = db_service.create_network(ctx, name="a")
    b = db_service.create_network(ctx, name="b")
    fw = db_service.create_service(ctx, "fw", "firewall")
    lb = db_service.create_service(ctx, "lb", "load-balancer")
    for svc_id, net_id in ((fw.id, a.id), (fw.id, b.id), (lb.id, a.id)):
        db_service.associate_service(ctx, svc_id, net_id)
    with pytest.raises(exc.ServiceInUse):
        db_service.associate_service(ctx, fw.id, a.id)
    assert _association_rows(db_service) == 3

    db_service.delete_network(ctx, a.id)
    assert _association_rows(db_service) == 1
    assert db_service.get_service(ctx, lb.id).network_ids == ()
    assert db_service.get_service(ctx, fw.id).network_ids == (b.id,)

    db_service.delete_service(ctx, fw.id)
    assert _association_rows(db_service) == 0
    assert db_service.get_network(ctx, b.id).name == "b"
