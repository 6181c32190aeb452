"""Time per NIC of each Nova flow through ``naas_lib.virt.nova_api.API``, against its SQL floor.

Two hosts and a conductor share a fresh SQLite file (noop driver: database
only, so the netlink floor is zero here; see ``bench_plug.py`` for devices).
For COUNT instances of NICS NICs (default 1) each flow runs through the
drop-in API as Nova calls it: hot-plug (allocate one more NIC, then deallocate it), live
migration (bind_ports_to_host, setup_networks_on_host, migrate_instance_start,
cleanup_instance_network_on_host, migrate_instance_finish), cold migration
(setup_networks_on_host, migrate_instance_finish), evacuation
(setup_instance_network_on_host) and shelve/unshelve (unbind_ports,
setup_instance_network_on_host). The floor of a flow is the number of write
transactions it needs at least (one per binding created, activated or
deleted, one per port created or deleted) times one bare SQLAlchemy Core
single-row UPDATE transaction on the same file. SQL statements, commits and
CPU time per NIC are printed too: on a loaded machine they are the steadier
figures.

    .venv/bin/python benchmarks/bench_nova_flows.py [COUNT] [NICS]
"""

from __future__ import annotations

import os
import sys
import time
import types
import uuid

import sqlalchemy as sa

from naas_lib import NetworkService
from naas_lib.virt import nova_api

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util  # noqa: E402

NOVA = types.SimpleNamespace(project_id="bench", user_id="nova", roles=["admin"], is_admin=True)

#: Minimum write transactions per NIC of each flow (see the module docstring).
FLOOR_WRITES = {"hot-plug": 3, "live migration": 3, "cold migration": 3, "evacuation": 3,
                "shelve/unshelve": 2}


def _floor_us(url: str, rounds: int = 300) -> float:
    """One bare single-row UPDATE transaction, in microseconds."""
    engine = sa.create_engine(url)
    _util.tune_sqlite(engine)
    meta = sa.MetaData()
    t = sa.Table("floor", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("v", sa.Integer))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert().values(id=1, v=0))
    start = time.perf_counter()
    for i in range(rounds):
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == 1).values(v=i))
    engine.dispose()
    return (time.perf_counter() - start) / rounds * 1e6


def main(count: int, nics: int = 1) -> None:
    url = _util.fresh_sqlite("nova_flows.sqlite")
    svc = {h: NetworkService.from_settings(database_url=url, host=h, driver="noop")
           for h in ("src", "dst")}
    svc["conductor"] = NetworkService.from_settings(database_url=url, driver="noop")
    api = {h: nova_api.API(s) for h, s in svc.items()}
    admin = nova_api.to_context(NOVA)
    net = svc["conductor"].create_network(admin, network_type="local", project_id="bench")
    svc["conductor"].create_subnet(admin, network_id=net.id, cidr="10.60.0.0/16")
    req = types.SimpleNamespace(objects=[types.SimpleNamespace(
        network_id=net.id, port_id=None, address=None, binding_profile=None)])
    insts = [types.SimpleNamespace(uuid=str(uuid.uuid4()), name=f"vm{i}", project_id="bench",
                                   host="src") for i in range(count)]
    boot = types.SimpleNamespace(objects=req.objects * nics)
    for inst in insts:
        api["src"].allocate_for_instance(NOVA, inst, boot)
    times: dict[str, float] = {}
    sql = {"statements": 0, "commits": 0}
    for s in svc.values():
        sa.event.listen(s.db.engine, "before_cursor_execute",
                        lambda *a: sql.__setitem__("statements", sql["statements"] + 1))
        sa.event.listen(s.db.engine, "commit",
                        lambda *a: sql.__setitem__("commits", sql["commits"] + 1))
    counts: dict[str, tuple[float, float, float]] = {}

    def timed(name, fn):
        before = dict(sql)
        start, cpu = time.perf_counter(), time.process_time()
        for inst in insts:
            fn(inst)
        cpu = time.process_time() - cpu
        moved = count if name == "hot-plug" else count * nics  # NICs the flow handled
        times[name] = (time.perf_counter() - start) / moved * 1e6
        counts[name] = ((sql["statements"] - before["statements"]) / moved,
                        (sql["commits"] - before["commits"]) / moved, cpu / moved * 1e6)

    def hot_plug(inst):
        vif = api["src"].allocate_for_instance(NOVA, inst, req)[0]
        api["src"].deallocate_port_for_instance(NOVA, inst, vif["id"])

    def live(inst):
        mig = {"migration_type": "live-migration", "source_compute": "src",
               "dest_compute": "dst"}
        api["conductor"].bind_ports_to_host(NOVA, inst, "dst")
        api["dst"].setup_networks_on_host(NOVA, inst, "dst")
        api["src"].migrate_instance_start(NOVA, inst, mig)
        api["src"].cleanup_instance_network_on_host(NOVA, inst, "src")
        inst.host = "dst"
        api["dst"].migrate_instance_finish(NOVA, inst, mig, None)

    def cold(inst):
        mig = {"migration_type": "migration", "source_compute": "dst", "dest_compute": "src"}
        api["src"].setup_networks_on_host(NOVA, inst, "src")
        api["src"].migrate_instance_finish(NOVA, inst, mig, None)
        inst.host = "src"

    def evacuate(inst):
        api["dst"].setup_instance_network_on_host(NOVA, inst, "dst")
        inst.host = "dst"

    def shelve(inst):
        ports = [v["id"] for v in api["dst"].get_instance_nw_info(NOVA, inst)]
        api["dst"].unbind_ports(NOVA, ports, detach=False)
        api["src"].setup_instance_network_on_host(NOVA, inst, "src")
        inst.host = "src"

    for name, fn in (("hot-plug", hot_plug), ("live migration", live),
                     ("cold migration", cold), ("evacuation", evacuate),
                     ("shelve/unshelve", shelve)):
        timed(name, fn)
    for s in svc.values():
        s.close()
    floor = _floor_us(_util.fresh_sqlite("nova_flows_floor.sqlite"))
    print(f"{count} instances of {nics} NIC(s), noop driver, SQLite file; "
          f"floor transaction {floor:.1f} us", flush=True)
    for name, us in times.items():
        _util.report(f"{name} per NIC", us, FLOOR_WRITES[name] * floor)
    for name, (statements, commits, cpu_us) in counts.items():
        print(f"{name + ' per NIC':50} {statements:6.1f} SQL statements, "
              f"{commits:4.1f} commits (floor {FLOOR_WRITES[name]} write transactions), "
              f"CPU {cpu_us:8.1f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100,
         int(sys.argv[2]) if len(sys.argv) > 2 else 1)
