"""Construction does no I/O on the database; ``start()`` makes the service ready."""

from __future__ import annotations

import sqlalchemy as sa

from naas_lib import NetworkService
from naas_lib.resources.core import Hooks
from naas_lib.service import build_conf


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_build_touches_no_database_and_start_makes_it_ready(tmp_path, ctx):
    url = f"sqlite:///{tmp_path / 'naas.sqlite'}"
    svc = NetworkService.build(build_conf(database_url=url, host="h1"))
    try:
        assert _tables(url) == []  # no schema, no settings, no host record yet
        svc.start()
        assert "ports" in _tables(url)
        assert [h.name for h in svc.list_hosts(ctx.elevated())] == ["h1"]
        net = svc.create_network(ctx)
        assert svc.get_network(ctx, net.id).id == net.id
    finally:
        svc.close()


def test_from_settings_still_gives_a_ready_service(ctx):
    with NetworkService.from_settings(database_url="sqlite://") as svc:
        assert svc.list_networks(ctx) == []


class Recording(Hooks):
    def __init__(self) -> None:
        self.points: list[str] = []

    def point(self, name: str) -> None:
        self.points.append(name)


def test_hooks_given_to_the_service_see_the_points_of_an_attach(ctx):
    hooks = Recording()
    with NetworkService.from_settings(database_url="sqlite://", host="h1",
                                      hooks=hooks) as svc:
        net = svc.create_network(ctx)
        port = svc.create_port(ctx, network_id=net.id)
        svc.attach_port(ctx, port.id, "vif-1")
    assert hooks.points == ["after_commit_before_plug"]
