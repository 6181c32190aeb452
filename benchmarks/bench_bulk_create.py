"""Benchmark: 1,000 ports created in ONE ``create_ports`` call (a boot storm's shape).

Each port gets a generated MAC and an automatic IPv4 address on one network
(a /16); the figure is ports per second over the call, medians of alternating
rounds, against a floor: the same rows (ports, bindings, addresses, default
security group memberships) inserted with bare SQLAlchemy Core ``executemany``
in one transaction, same pragmas. ``--backend postgresql`` (or mysql) runs
both on a server database instead.

    python -m benchmarks.bench_bulk_create [--count 1000] [--rounds 3] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import sqlalchemy as sa

from benchmarks import _util
from naas_lib import NetworkService, RequestContext
from naas_lib.db import migration, models
from tests.support import databases

TARGET_PORTS_PER_S = 5000.0


def floor(url: str, count: int) -> tuple[float, float]:
    """Seconds (wall, CPU) for ``count`` ports' rows in one transaction of executemany inserts."""
    engine = sa.create_engine(url)
    if url.startswith("sqlite"):
        _util.tune_sqlite(engine)
    migration.upgrade(engine)
    now = models.utcnow()
    network_id, subnet_id, group_id = (str(uuid.uuid4()) for _ in range(3))
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Network.__table__).values(
            id=network_id, project_id="p", name="floor", description="", admin_state_up=True,
            status="ACTIVE", shared=False, mtu=1450, network_type="local", revision_number=1,
            created_at=now, updated_at=now))
        conn.execute(sa.insert(models.Subnet.__table__).values(
            id=subnet_id, project_id="p", network_id=network_id, name="", description="",
            ip_version=4, cidr="10.0.0.0/16", gateway_ip="10.0.0.1", enable_dhcp=True,
            revision_number=1, created_at=now, updated_at=now))
        conn.execute(sa.insert(models.SecurityGroup.__table__).values(
            id=group_id, project_id="p", name="default", description="", revision_number=1,
            created_at=now, updated_at=now))
    ids = [str(uuid.uuid4()) for _ in range(count)]
    cpu = time.process_time()
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Port.__table__), [{
            "id": pid, "project_id": "p", "network_id": network_id, "name": "",
            "description": "", "admin_state_up": True, "status": "DOWN", "status_reason": None,
            "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            "device_id": "", "device_owner": "", "revision_number": 1, "created_at": now,
            "updated_at": now, "port_security_enabled": True} for i, pid in enumerate(ids)])
        conn.execute(sa.insert(models.PortBinding.__table__), [{
            "port_id": pid, "host": "", "status": "ACTIVE", "active": True,
            "vif_type": "unbound", "vif_details": "{}", "profile": "{}"} for pid in ids])
        conn.execute(sa.insert(models.IpAllocation.__table__), [{
            "subnet_id": subnet_id, "ip_address": f"10.0.{(i + 2) >> 8 & 255}.{(i + 2) & 255}",
            "port_id": pid, "network_id": network_id} for i, pid in enumerate(ids)])
        conn.execute(sa.insert(models.PortSecurityGroup.__table__), [{
            "port_id": pid, "security_group_id": group_id} for pid in ids])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return elapsed, cpu


def bench(url: str, count: int) -> tuple[float, float]:
    """Seconds (wall, CPU) for one create_ports call of ``count`` automatic ports."""
    svc = NetworkService.from_settings(database_url=url, vni_ranges=["1:1000"],
                                       create_schema=True)
    try:
        ctx = RequestContext(project_id="bench", user_id="bench")
        net = svc.create_network(ctx, name="bench")
        svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/16")
        svc.create_port(ctx, network_id=net.id)  # the project's default group exists
        cpu = time.process_time()
        start = time.perf_counter()
        ports = svc.create_ports(ctx, [{"network_id": net.id}] * count)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        addresses = {f.ip_address for p in ports for f in p.fixed_ips}
        assert len(ports) == count and len(addresses) == count
        return elapsed, cpu
    finally:
        svc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=databases.BACKENDS, default="sqlite")
    args = parser.parse_args()
    floors, libs = [], []
    for _ in range(args.rounds):
        drops = []
        if args.backend == "sqlite":
            lib_url = _util.fresh_sqlite("bench_bulk.sqlite")
            floor_url = _util.fresh_sqlite("floor_bulk.sqlite")
        else:
            lib_url, drop1 = databases.provision(args.backend)
            floor_url, drop2 = databases.provision(args.backend)
            drops = [drop1, drop2]
        try:
            floors.append(floor(floor_url, args.count))
            libs.append(bench(lib_url, args.count))
        finally:
            for drop in drops:
                drop()
    f, lib = statistics.median(w for w, _ in floors), statistics.median(w for w, _ in libs)
    f_cpu, lib_cpu = (statistics.median(c for _, c in floors),
                      statistics.median(c for _, c in libs))
    print(f"{args.count} ports in one call, {args.rounds} alternating rounds ({args.backend})")
    print(f"floor (bare Core executemany): {args.count / f:10.0f} ports/s")
    rate = args.count / lib
    print(f"naas_lib create_ports:         {rate:10.0f} ports/s   ratio to floor "
          f"{lib / f:5.2f}x (target >= {TARGET_PORTS_PER_S:.0f} ports/s: "
          f"{'met' if rate >= TARGET_PORTS_PER_S else 'MISSED'})")
    print(f"CPU: floor {args.count / f_cpu:.0f} ports/s, naas_lib {args.count / lib_cpu:.0f} "
          f"ports/s ({lib_cpu / f_cpu:.2f}x)")


if __name__ == "__main__":
    main()
