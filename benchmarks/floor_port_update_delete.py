"""Floors for port update and delete: the same rows with bare SQLAlchemy Core.

Ports are first inserted as ``floor_port_create`` inserts them (not timed).
The update floor is one transaction per port that reads the port row and
renames it with a revision compare-and-swap; the delete floor is one
transaction per port that reads the port row, deletes its address, returns
the address to the pool's free list (``ip_free``), and deletes its binding and
its row. Same SQLite pragmas as the library; ``bench_port_update_delete``
imports :func:`run_floors`.
"""

from __future__ import annotations

import sys
import time
import uuid

import sqlalchemy as sa

from benchmarks import _util
from naas_lib.db import migration, models

_ports, _allocs = models.Port.__table__, models.IpAllocation.__table__
_bindings, _free = models.PortBinding.__table__, models.IpFree.__table__


def _populate(conn: sa.Connection, count: int) -> tuple[list[tuple[str, str]], str, int]:
    """``count`` ports with a binding and an address: [(port id, address)], subnet, pool."""
    now = models.utcnow()
    network_id, subnet_id = str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute(sa.insert(models.Network.__table__).values(
        id=network_id, project_id="p", name="floor", description="", admin_state_up=True,
        status="ACTIVE", shared=False, mtu=1450, network_type="local", revision_number=1,
        created_at=now, updated_at=now))
    conn.execute(sa.insert(models.Subnet.__table__).values(
        id=subnet_id, project_id="p", network_id=network_id, name="", description="",
        ip_version=4, cidr="10.0.0.0/16", gateway_ip="10.0.0.1", enable_dhcp=True,
        revision_number=1, created_at=now, updated_at=now))
    pool_id = conn.execute(sa.insert(models.AllocationPool.__table__).values(
        subnet_id=subnet_id, first_ip="10.0.0.2", last_ip="10.0.255.254",
        first_key=f"{0x0a000002:032x}", last_key=f"{0x0a00fffe:032x}",
        next_key=None)).inserted_primary_key[0]
    made = []
    for i in range(count):
        port_id, ip = str(uuid.uuid4()), f"10.0.{(i + 2) >> 8 & 255}.{(i + 2) & 255}"
        conn.execute(sa.insert(_ports).values(
            id=port_id, project_id="p", network_id=network_id, name="", description="",
            mac_address=f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            admin_state_up=True, status="DOWN", status_reason=None, device_id="",
            device_owner="", revision_number=1, created_at=now, updated_at=now))
        conn.execute(sa.insert(_bindings).values(
            port_id=port_id, host="", status="ACTIVE", active=True, vif_type="unbound",
            vif_details="{}", profile="{}"))
        conn.execute(sa.insert(_allocs).values(subnet_id=subnet_id, ip_address=ip,
                                               port_id=port_id, network_id=network_id))
        made.append((port_id, ip))
    return made, subnet_id, pool_id


def run_floors(url: str, count: int) -> tuple[float, float, float, float]:
    """Seconds per port of (update, delete) wall time, then (update, delete) CPU time."""
    engine = sa.create_engine(url)
    if url.startswith("sqlite"):
        _util.tune_sqlite(engine)
    migration.upgrade(engine)
    with engine.begin() as conn:
        made, subnet_id, pool_id = _populate(conn, count)
    read = sa.select(_ports).where(_ports.c.id == sa.bindparam("i"))
    cpu = time.process_time()
    start = time.perf_counter()
    for port_id, _ip in made:
        with engine.begin() as conn:
            row = conn.execute(read, {"i": port_id}).one()
            conn.execute(sa.update(_ports).where(
                _ports.c.id == port_id, _ports.c.revision_number == row.revision_number).values(
                name="renamed", revision_number=row.revision_number + 1,
                updated_at=models.utcnow()))
    update = (time.perf_counter() - start) / count
    update_cpu = (time.process_time() - cpu) / count
    cpu = time.process_time()
    start = time.perf_counter()
    for port_id, ip in made:
        with engine.begin() as conn:
            conn.execute(read, {"i": port_id}).one()
            conn.execute(sa.delete(_allocs).where(_allocs.c.subnet_id == subnet_id,
                                                  _allocs.c.ip_address == ip))
            conn.execute(sa.insert(_free).values(pool_id=pool_id, ip_key=ip))
            conn.execute(sa.delete(_bindings).where(_bindings.c.port_id == port_id))
            conn.execute(sa.delete(_ports).where(_ports.c.id == port_id))
    delete = (time.perf_counter() - start) / count
    delete_cpu = (time.process_time() - cpu) / count
    engine.dispose()
    return update, delete, update_cpu, delete_cpu


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    url = _util.fresh_sqlite("floor_update_delete.sqlite")
    up, down, _, _ = run_floors(url, n)
    print(f"database: {url}")
    _util.report(f"floor: update {n} ports, SQLAlchemy Core", up * 1e6)
    _util.report(f"floor: delete {n} ports, SQLAlchemy Core", down * 1e6)
