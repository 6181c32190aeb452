"""The full attach-and-plug path through the service, against the plug floor.

For COUNT tap ports on one ``local`` network of a host that is a throw-away
network namespace (linuxbridge driver pointed at it, SQLite file):

* ``attach``: ``attach_port(host=self)`` of ports created beforehand: bind
  (database), commit, plug (kernel), record ACTIVE (database);
* ``create+attach``: ``create_port`` then ``attach_port``, what a Nova boot
  costs per NIC;
* ``sync``: one reconciliation round with nothing to change (the loop's
  steady-state cost for COUNT ports).

Each figure is printed in microseconds per port with its ratio to
``floor_plug.py`` (the same taps made with bare pyroute2, no database).
The namespace is removed at the end. Needs root.

    sudo .venv/bin/python benchmarks/bench_attach_plug.py [COUNT]
"""

from __future__ import annotations

import os
import sys
import time
import uuid

from pyroute2 import netns

from naas_lib import NetworkService, RequestContext, constants

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util  # noqa: E402
import floor_plug  # noqa: E402

ADMIN = RequestContext(project_id="bench", user_id="bench", roles=["admin"])


def _service(ns: str, db_name: str) -> NetworkService:
    return NetworkService.from_settings(database_url=_util.fresh_sqlite(db_name),
                                        driver="linuxbridge", host="bench-host",
                                        linuxbridge={"netns": ns})


def measure(count: int) -> dict[str, float]:
    """Seconds per port of each path, in a namespace made and removed here."""
    ns = "naasbench" + uuid.uuid4().hex[:8]
    netns.create(ns)
    figures: dict[str, float] = {}
    try:
        svc = _service(ns, "attach_plug.sqlite")
        try:
            net = svc.create_network(ADMIN, name="bench", network_type="local")
            ports = svc.create_ports(ADMIN, [{"network_id": net.id}] * count)
            start = time.perf_counter()
            for port in ports:
                svc.attach_port(ADMIN, port.id, f"vif-{port.id}", host=svc.host)
            figures["attach"] = (time.perf_counter() - start) / count
            active = svc.list_ports(ADMIN, network_id=net.id,
                                    status=constants.PORT_STATUS_ACTIVE)
            assert len(active) == count, f"{len(active)} of {count} ports ACTIVE"
            start = time.perf_counter()
            report = svc.sync()
            figures["sync"] = (time.perf_counter() - start) / count
            assert not report.changed, report
        finally:
            svc.close()
        svc = _service(ns, "create_attach_plug.sqlite")
        try:
            net = svc.create_network(ADMIN, name="bench2", network_type="local")
            start = time.perf_counter()
            for _ in range(count):
                port = svc.create_port(ADMIN, network_id=net.id)
                svc.attach_port(ADMIN, port.id, f"vif-{port.id}", host=svc.host)
            figures["create+attach"] = (time.perf_counter() - start) / count
        finally:
            svc.close()
    finally:
        netns.remove(ns)
    return figures


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    floor = floor_plug.run(count)
    figures = measure(count)
    print(f"ports: {count}, tap ports on one local network, SQLite file, linuxbridge")
    print(f"floor (bare pyroute2 tap + fused link set): {floor * 1e6:9.1f} us/port")
    for name in ("attach", "create+attach", "sync"):
        value = figures[name]
        print(f"{name:<14} {value * 1e6:9.1f} us/port   ratio to floor {value / floor:6.2f}x")


if __name__ == "__main__":
    main()
