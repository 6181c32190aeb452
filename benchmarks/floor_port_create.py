"""Floor for port creation: the same rows inserted with bare SQLAlchemy Core.

One transaction per port inserts the port row and its address row, on a
SQLite file with the same pragmas as the library. Run on its own it prints
microseconds per port; ``bench_port_create`` imports ``run_floor``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import sqlalchemy as sa

from benchmarks import _util
from naas_lib.db import migration, models


def run_floor(url: str, count: int, network_id: str | None = None,
              subnet_id: str | None = None) -> float:
    """Seconds per port for ``count`` single-port transactions on a migrated schema."""
    engine = sa.create_engine(url)
    if url.startswith("sqlite"):
        _util.tune_sqlite(engine)
    migration.upgrade(engine)
    ports, allocs = models.Port.__table__, models.IpAllocation.__table__
    bindings = models.PortBinding.__table__
    now = models.utcnow()
    with engine.begin() as conn:
        if network_id is None:
            network_id, subnet_id = str(uuid.uuid4()), str(uuid.uuid4())
            conn.execute(sa.insert(models.Network.__table__).values(
                id=network_id, project_id="p", name="floor", description="",
                admin_state_up=True, status="ACTIVE", shared=False, mtu=1450,
                network_type="local", revision_number=1, created_at=now, updated_at=now))
            conn.execute(sa.insert(models.Subnet.__table__).values(
                id=subnet_id, project_id="p", network_id=network_id, name="", description="",
                ip_version=4, cidr="10.0.0.0/16", gateway_ip="10.0.0.1", enable_dhcp=True,
                revision_number=1, created_at=now, updated_at=now))
    start = time.perf_counter()
    for i in range(count):
        port_id = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(sa.insert(ports).values(
                id=port_id, project_id="p", network_id=network_id, name="", description="",
                mac_address=f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                admin_state_up=True, status="DOWN", status_reason=None, device_id="",
                device_owner="", revision_number=1, created_at=now, updated_at=now))
            conn.execute(sa.insert(bindings).values(
                port_id=port_id, host="", status="ACTIVE", active=True, vif_type="unbound",
                vif_details="{}", profile=json.dumps({})))
            conn.execute(sa.insert(allocs).values(
                subnet_id=subnet_id, ip_address=f"10.0.{(i + 2) >> 8 & 255}.{(i + 2) & 255}",
                port_id=port_id, network_id=network_id))
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed / count


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    url = _util.fresh_sqlite("floor_ports.sqlite")
    per_port = run_floor(url, n)
    print(f"database: {url}")
    _util.report(f"floor: {n} ports, SQLAlchemy Core", per_port * 1e6)
