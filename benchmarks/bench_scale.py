"""Flat at scale: one host's operations on a database of 1,000 vs 100,000 ports.

    python -m benchmarks.bench_scale [--backend sqlite|postgresql] [--large 100000]
        [--small 1000] [--rounds 30]

Each database holds the measured host ``scale-h0`` with 50 ports (25
two-NIC instances) on 5 VXLAN networks of its project, 4 peer hosts with
5 ports each on those networks, and background ports filling the rest:
100 ports per network on networks of other projects, bound round-robin to
other hosts (1,000 networks and 1,000 hosts in all for the large database).
Networks, subnets and ports are made through ``NetworkService``
(``create_ports`` with attachments binds them in the transaction that
creates them, so ports, addresses, pools, attachments and bindings are the
rows the service writes); only the other hosts' records are inserted with
Core, with the values a registering host writes.

On ``scale-h0`` it then measures (median of ``--rounds``): ``create_port``,
``list_ports`` filtered by network with a page of 20, ``list_ports`` by
``device_id`` (Nova's query) and by binding host, ``attach_port``, a 2-NIC boot through the
Provisioner, and one reconciliation round (``sync``, noop driver). Prints
both figures and the ratio large/small; target at most 1.5x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable

import netaddr
import sqlalchemy as sa

from benchmarks import _util
from naas_lib import NetworkService, RequestContext
from naas_lib.db import models
from naas_lib.ipam.addresses import from_key, to_key
from naas_lib.resources.hosts import host_capabilities
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.support import databases

TARGET_RATIO = 1.5
HOST = "scale-h0"
MINE = "scale-mine"  # the measured host's project
HOST_NETS, HOST_PORTS, PEERS, PEER_PORTS = 5, 50, 4, 5
PER_NETWORK = 100  # background ports per network
PROJECTS = 10  # background projects, each with its own default security group
ADMIN = RequestContext(project_id="admin", user_id="bench", is_admin=True)


def _add_hosts(svc: NetworkService, names: list[str]) -> None:
    """Record other hosts as a registering linuxbridge-like host would (endpoint, caps)."""
    caps = json.dumps(host_capabilities(svc.driver, svc.parts.core.types), sort_keys=True)
    # A host without a host name reports the noop driver all the same.
    now = models.utcnow()
    rows = [{"name": n, "vxlan_endpoint": f"10.{i // 250 % 250}.{i % 250}.1",
             "driver": svc.driver.name, "capabilities": caps, "heartbeat_at": now}
            for i, n in enumerate(names, 1)]
    with svc.db.engine.begin() as conn:
        conn.execute(sa.insert(models.Host.__table__), rows)


def _network(svc: NetworkService, project: str, index: int) -> str:
    ctx = RequestContext(project_id=project, user_id="bench")
    net = svc.create_network(ctx, name=f"net-{index}")
    svc.create_subnet(ctx, network_id=net.id,
                      cidr=f"10.{100 + index // 250}.{index % 250}.0/24")
    return net.id


def _ports(svc: NetworkService, project: str, net_id: str, hosts: list[str],
           tag: str) -> None:
    """``len(hosts)`` ports on ``net_id``, one bound to each host, in one transaction."""
    ctx = RequestContext(project_id=project, user_id="nova")
    svc.create_ports(ctx, [{"network_id": net_id, "device_id": f"{tag}-{i}",
                            "device_owner": "compute:nova"} for i in range(len(hosts))],
                     attachments=[{"instance_id": f"{tag}-{i}", "host": h}
                                  for i, h in enumerate(hosts)])


_T = {name: table for name, table in models.metadata.tables.items()}
#: The tables of a port's own rows, cloned from a template network.
PORT_TABLES = ("ports", "ip_allocations", "port_bindings", "attachments",
               "port_security_groups")


def _template(svc: NetworkService, project: str, index: int, hosts: list[str]
              ) -> tuple[str, dict[str, list[dict]]]:
    """A network of ``project`` with PER_NETWORK ports made by the service, and its rows."""
    net_id = _network(svc, project, index)
    _ports(svc, project, net_id, hosts[:PER_NETWORK], f"bg-{index}")
    rows: dict[str, list[dict]] = {}
    with svc.db.engine.connect() as conn:
        ports = _T["ports"]
        ids = [r.id for r in conn.execute(sa.select(ports.c.id).where(
            ports.c.network_id == net_id, ports.c.device_owner == "compute:nova"))]
        for name in PORT_TABLES:
            table = _T[name]
            key = table.c.id if name == "ports" else table.c.port_id
            rows[name] = [dict(r._mapping) for r in conn.execute(
                sa.select(table).where(key.in_(ids)))]
        rows["pool"] = [dict(r._mapping) for r in conn.execute(
            sa.select(_T["allocation_pools"]).join(_T["subnets"]).where(
                _T["subnets"].c.network_id == net_id))]
        rows["lanes"] = [dict(r._mapping) for r in conn.execute(
            sa.select(_T["ip_lanes"]).where(_T["ip_lanes"].c.pool_id == rows["pool"][0]["id"]))]
    return net_id, rows


def _clone(svc: NetworkService, template: dict[str, list[dict]], project: str, index: int,
           hosts: list[str]) -> None:
    """A new network of ``project`` whose ports are the template's, bound to ``hosts``.

    The network and subnet come from the service (segment, pool and the DHCP
    reservation port as it makes them); the ports' rows are the template's
    with new ids, addresses in the new subnet at the same offsets, new MACs,
    hosts and instance ids; the pool's lanes move as far as the template's.
    """
    net_id = _network(svc, project, index)
    with svc.db.engine.begin() as conn:
        pool = dict(conn.execute(sa.select(_T["allocation_pools"]).join(_T["subnets"]).where(
            _T["subnets"].c.network_id == net_id)).one()._mapping)
        old_pool = template["pool"][0]
        shift = from_key(pool["first_key"]) - from_key(old_pool["first_key"])
        new_ids = {r["id"]: str(uuid.uuid4()) for r in template["ports"]}
        host_of = {old: hosts[i % len(hosts)] for i, old in enumerate(new_ids)}
        now = models.utcnow()

        def moved(ip: str) -> str:
            return str(netaddr.IPAddress(int(netaddr.IPAddress(ip)) + shift))

        order = {old: i for i, old in enumerate(new_ids)}

        def port_row(r: dict) -> dict:
            new, i = new_ids[r["id"]], order[r["id"]]
            # Distinct on the network (the schema's rule) and across the fill.
            mac = f"fa:16:3e:{index >> 8 & 0xff:02x}:{index & 0xff:02x}:{i:02x}"
            return {**r, "id": new, "network_id": net_id, "created_at": now, "updated_at": now,
                    "mac_address": mac, "device_id": f"bg-{index}-{new[:8]}"}

        def ip_row(r: dict) -> dict:
            return {**r, "port_id": new_ids[r["port_id"]], "network_id": net_id,
                    "subnet_id": pool["subnet_id"], "ip_address": moved(r["ip_address"])}

        def binding_row(r: dict) -> dict:
            old, new = r["port_id"], new_ids[r["port_id"]]
            return {**r, "port_id": new, "host": host_of[old] if r["host"] else "",
                    "vif_details": r["vif_details"].replace(old[:11], new[:11])}

        def attachment_row(r: dict) -> dict:
            new = new_ids[r["port_id"]]
            return {**r, "port_id": new, "interface_id": new, "host": host_of[r["port_id"]],
                    "instance_id": f"bg-{index}-{new[:8]}", "created_at": now}

        def group_row(r: dict) -> dict:
            return {**r, "port_id": new_ids[r["port_id"]]}

        for name, make in (("ports", port_row), ("ip_allocations", ip_row),
                           ("port_bindings", binding_row), ("attachments", attachment_row),
                           ("port_security_groups", group_row)):
            if template[name]:
                conn.execute(sa.insert(_T[name]), [make(r) for r in template[name]])
        lanes = _T["ip_lanes"]
        conn.execute(sa.delete(lanes).where(lanes.c.pool_id == pool["id"]))
        conn.execute(sa.insert(lanes), [
            {"pool_id": pool["id"], "lane": r["lane"],
             "next_key": None if r["next_key"] is None
             else to_key(from_key(r["next_key"]) + shift)} for r in template["lanes"]])
        conn.execute(sa.update(_T["allocation_pools"]).where(
            _T["allocation_pools"].c.id == pool["id"]).values(
            next_key=None if old_pool["next_key"] is None
            else to_key(from_key(old_pool["next_key"]) + shift)))


def fill(url: str, total: int, hosts: int, clone: bool = True
         ) -> tuple[NetworkService, list[str]]:
    """A database of ``total`` ports; returns the measured host's service and its networks.

    Background networks of each project after the first are clones of that
    project's first one (``clone``), or all made by the service.
    """
    options = {"database_url": url, "tenant_network_types": ["vxlan"]}
    # The measured host registers itself; the fill runs in a process of its own
    # (an API server's), so the host's process starts with nothing in memory.
    NetworkService.from_settings(host=HOST, create_schema=True, **options).close()
    svc = NetworkService.from_settings(**options)
    with svc.db.engine.begin() as conn:  # the endpoint a Linux bridge host records
        conn.execute(sa.update(models.Host.__table__).where(models.Host.name == HOST)
                     .values(vxlan_endpoint="10.255.0.1"))
    started = time.perf_counter()
    peers = [f"scale-peer{i}" for i in range(PEERS)]
    others = [f"scale-h{i}" for i in range(1, hosts - PEERS)]
    _add_hosts(svc, peers + others)
    mine = [_network(svc, MINE, i) for i in range(HOST_NETS)]
    for n, net_id in enumerate(mine):
        per_net = HOST_PORTS // HOST_NETS
        ctx = RequestContext(project_id=MINE, user_id="nova")
        svc.create_ports(ctx, [{"network_id": net_id, "device_id": f"mine-{n}-{i}"}
                               for i in range(per_net)],
                         attachments=[{"instance_id": f"mine-{n}-{i}", "host": HOST}
                                      for i in range(per_net)])
        _ports(svc, MINE, net_id, [p for p in peers for _ in range(PEER_PORTS)], f"peer-{n}")
    left = total - HOST_PORTS - HOST_NETS * PEERS * PEER_PORTS
    index, h = HOST_NETS, 0
    templates: dict[str, dict[str, list[dict]]] = {}
    while left > 0:
        count = min(PER_NETWORK, left)
        project = f"scale-p{index % PROJECTS}"
        bound = [others[(h + i) % len(others)] for i in range(count)]
        h += count
        if clone and count == PER_NETWORK and project in templates:
            _clone(svc, templates[project], project, index, bound)
        elif count == PER_NETWORK:
            templates[project] = _template(svc, project, index, bound)[1]
        else:
            _ports(svc, project, _network(svc, project, index), bound, f"bg-{index}")
        left -= count
        index += 1
    if svc.db.engine.dialect.name == "postgresql":
        # The planner's statistics, as autovacuum's analyze keeps them on a
        # running database: without them every IN (...) on a table plans as a scan.
        with svc.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    print(f"  filled {total} ports on {index} networks, {hosts} hosts in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    svc.close()
    svc = NetworkService.from_settings(host=HOST, **options)
    svc.sync()  # the host's devices exist; measured rounds are steady state
    return svc, mine


class Host:
    """The measured host on one database: its service, provisioner, networks and leftovers."""

    def __init__(self, svc: NetworkService, mine: list[str]) -> None:
        self.svc, self.mine, self.prov = svc, mine, Provisioner(svc)
        self.ctx = RequestContext(project_id=MINE, user_id="nova")
        self.made: list[str] = []
        self.booted: list[dict[str, str]] = []

    # Each operation returns the call to time; what it needs is made untimed.
    def create_port(self, _i: int) -> Callable[[], object]:
        return lambda: self.made.append(
            self.svc.create_port(self.ctx, network_id=self.mine[0]).id)

    def list_network(self, _i: int) -> Callable[[], object]:
        return lambda: self.svc.list_ports(self.ctx, network_id=self.mine[1], limit=20)

    def list_device(self, _i: int) -> Callable[[], object]:
        return lambda: self.svc.list_ports(ADMIN, device_id="mine-2-3")

    def list_host(self, _i: int) -> Callable[[], object]:
        return lambda: self.svc.list_ports(ADMIN, binding_host_id=HOST, limit=20)

    def attach(self, i: int) -> Callable[[], object]:
        port = self.svc.create_port(self.ctx, network_id=self.mine[2])
        self.made.append(port.id)
        return lambda: self.svc.attach_port(self.ctx, port.id, f"vif-{i}-{uuid.uuid4().hex[:8]}",
                                            instance_id=f"att-{i}", host=HOST)

    def boot(self, i: int) -> Callable[[], object]:
        inst = {"uuid": str(uuid.uuid4()), "name": f"b{i}", "project_id": MINE}
        self.booted.append(inst)
        nics = [NicRequest(network_id=self.mine[3]), NicRequest(network_id=self.mine[4])]
        return lambda: self.prov.allocate_for_instance(self.ctx, inst, nics, HOST)

    def round(self, _i: int) -> Callable[[], object]:
        return self.svc.sync

    def beat(self) -> None:
        """Every other host beats now, as live hosts do: peers stay peers however long
        the fill took."""
        with self.svc.db.engine.begin() as conn:
            conn.execute(sa.update(models.Host.__table__).where(models.Host.name != HOST)
                         .values(heartbeat_at=models.utcnow()))

    def clean(self) -> None:
        """Remove what the operations made, so the next one sees the filled database."""
        for inst in self.booted:
            self.prov.deallocate_for_instance(self.ctx, inst)
        for port_id in self.made:
            self.svc.detach_port(self.ctx, port_id)
            self.svc.delete_port(self.ctx, port_id)
        self.made.clear()
        self.booted.clear()


OPERATIONS = [("create_port", "create_port"),
              ("list_ports network_id, limit 20", "list_network"),
              ("list_ports device_id (admin)", "list_device"),
              ("list_ports binding host, limit 20", "list_host"),
              ("attach_port (plug)", "attach"),
              ("boot 2 NICs (Provisioner)", "boot"),
              ("reconciliation round (sync)", "round")]


def measure(hosts: list[Host], rounds: int) -> list[dict[str, float]]:
    """Median seconds per operation and host; the hosts alternate call by call, so a
    busy machine slows both alike."""
    figures: list[dict[str, float]] = [{} for _ in hosts]
    for label, op in OPERATIONS:
        samples: list[list[float]] = [[] for _ in hosts]
        for host in hosts:
            host.beat()
        for i in range(rounds + 2):
            for host, mine in zip(hosts, samples, strict=True):
                call = getattr(host, op)(i)
                t0 = time.perf_counter()
                call()
                if i >= 2:  # two warm-up rounds
                    mine.append(time.perf_counter() - t0)
        for host, mine, fig in zip(hosts, samples, figures, strict=True):
            host.clean()
            fig[label] = statistics.median(mine)
    return figures


def database(backend: str, total: int, drops: list[Callable[[], None]]) -> Host:
    """A filled database of ``total`` ports and the measured host on it."""
    if backend == "sqlite":
        url = _util.fresh_sqlite(f"scale_{total}.sqlite")
    else:
        url, drop = databases.provision(backend)
        drops.append(drop)
    hosts = max(10, total // PER_NETWORK)
    return Host(*fill(url, total, hosts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"scale benchmark on {args.backend}: host {HOST} with {HOST_PORTS} ports, "
          f"{args.small} vs {args.large} ports in the database", flush=True)
    drops: list[Callable[[], None]] = []
    hosts: list[Host] = []
    try:
        hosts = [database(args.backend, n, drops) for n in (args.small, args.large)]
        small, large = measure(hosts, args.rounds)
    finally:
        for host in hosts:
            host.svc.close()
        for drop in drops:
            drop()
    missed = 0
    print(f"{'operation':<36} {'small ms':>9} {'large ms':>9}  ratio (target <= "
          f"{TARGET_RATIO}x)")
    for name, s in small.items():
        ratio = large[name] / s
        missed += ratio > TARGET_RATIO
        print(f"{name:<36} {s * 1e3:9.2f} {large[name] * 1e3:9.2f}  {ratio:5.2f}x "
              f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
