"""``naas demo``: boot three two-NIC instances, prove who reaches whom, leave nothing.

As root with the linuxbridge driver each instance is a network namespace
(the "guest") whose ``eth0``/``eth1`` are the guest ends of its ports, made
by the driver through the provisioner exactly as a Nova boot would; real
pings bound to each NIC fill the connectivity matrix. Without root the same
boots run with the noop driver as database records only, and the demo says
so. Everything is torn down at the end, also on failure or Ctrl-C, and the
demo checks that no port, attachment, device or namespace is left.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from naas_lib.context import RequestContext, get_admin_context
from naas_lib.service import NetworkService
from naas_lib.virt.provisioner import NicRequest, Provisioner

HOST = "demo-host"
NETWORKS = (("blue", "10.71.1.0/24"), ("green", "10.71.2.0/24"))
INSTANCES = 3
NIC_NAMES = ("eth0", "eth1")

Printer = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Nic:
    """One NIC of a demo instance, as the matrix sees it."""

    instance: str
    ifname: str
    netns: str | None
    network: str
    port_id: str
    address: str
    mac: str

    @property
    def label(self) -> str:
        return f"{self.instance}/{self.ifname}"


@dataclasses.dataclass
class DemoState:
    """What the demo made, so that teardown can undo it whatever happened."""

    service: NetworkService | None = None
    provisioner: Provisioner | None = None
    namespaces: list[str] = dataclasses.field(default_factory=list)
    instances: list[dict[str, str]] = dataclasses.field(default_factory=list)
    networks: list[str] = dataclasses.field(default_factory=list)
    port_ids: set[str] = dataclasses.field(default_factory=set)
    tmpdir: str | None = None


def can_use_namespaces() -> bool:
    """Root, and the ``ip`` tool to make namespaces: the real demo is possible."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


def ping(netns: str, ifname: str, address: str, mac: str) -> bool:
    """Echo requests from ``ifname`` in ``netns`` (2 s at most), answered by NIC ``mac``.

    The ping is bound to the NIC; a reply only counts when the neighbour
    entry it left on that NIC holds the target port's MAC (so another NIC of
    the same instance answering for the address does not count).
    """
    proc = subprocess.run(["ip", "netns", "exec", netns, "ping", "-n", "-q", "-c", "1", "-i", "0.2",
                           "-w", "2", "-I", ifname, address],
                          capture_output=True, text=True, timeout=15)
    if proc.returncode != 0:
        return False
    neigh = json.loads(_ip("-n", netns, "-j", "neigh", "show", "to", address, "dev", ifname,
                           check=False).stdout or "[]")
    return any(str(e.get("lladdr", "")).lower() == mac.lower() for e in neigh)


def prepare_guest(netns: str) -> None:
    """A multi-homed guest answers ARP only on the NIC that holds the address.

    Linux answers ARP for any of its addresses on any interface by default;
    a VM on two networks is set up not to (``arp_ignore=1``), or a ping of its
    green address from blue would be answered over blue.
    """
    for key in ("net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.default.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2"):
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", key],
                       capture_output=True, check=True, timeout=15)


def connectivity_matrix(nics: list[Nic]) -> tuple[list[list[str]], list[str]]:
    """Ping every NIC from every other instance's NICs; cells and a list of problems.

    Same network: must answer ("ok", else "FAIL"). Different networks: must
    not ("isolated", else "LEAK").
    """
    jobs = [(s, t) for s in nics for t in nics if s.instance != t.instance]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        replies = pool.map(lambda st: ping(st[0].netns, st[0].ifname, st[1].address,
                                           st[1].mac), jobs)
        results = dict(zip(jobs, replies, strict=True))
    rows, problems = [], []
    for s in nics:
        row = []
        for t in nics:
            if s.instance == t.instance:
                row.append(".")
                continue
            expected, reached = s.network == t.network, results[(s, t)]
            cell = ("ok" if reached else "FAIL") if expected else (
                "LEAK" if reached else "isolated")
            if expected != reached:
                problems.append(f"{s.label} -> {t.label} ({t.address}): {cell}")
            row.append(cell)
        rows.append(row)
    return rows, problems


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def leftovers(state: DemoState, real: bool) -> list[str]:
    """Everything of the demo still present: rows in the DB, devices, namespaces."""
    found: list[str] = []
    svc = state.service
    if svc is not None:
        admin = get_admin_context()
        found += [f"port {p.id}" for p in svc.list_ports(admin)]
        found += [f"attachment of port {a.port_id}" for a in svc.list_attachments(admin)]
        found += [f"network {n.id}" for n in svc.list_networks(admin, id=state.networks)
                  ] if state.networks else []
        if svc.host:
            # A reconciliation round removes whatever the driver still holds.
            found += [f"{svc.driver_name} device left: {r}" for r in svc.sync().removed]
    if real:
        links = json.loads(_ip("-j", "link", "show").stdout or "[]")
        prefixes = tuple(pid[:11] for pid in state.port_ids) + tuple(
            nid[:11] for nid in state.networks)
        found += [f"device {link['ifname']}" for link in links
                  if prefixes and link.get("ifname", "")[3:14].startswith(prefixes)]
        existing = set(_ip("netns", "list").stdout.split())
        found += [f"namespace {ns}" for ns in state.namespaces if ns in existing]
    return found


def teardown(state: DemoState, say: Printer) -> None:
    """Deallocate every instance, delete the networks and namespaces; best effort."""
    ctx = get_admin_context()
    if state.provisioner is not None:
        for inst in state.instances:
            try:
                state.provisioner.deallocate_for_instance(ctx, inst)
            except Exception as e:  # keep tearing down the rest
                say(f"  ! deallocating {inst['name']} failed: {e}")
    if state.service is not None:
        for net_id in state.networks:
            try:
                state.service.delete_network(ctx, net_id)
            except Exception as e:
                say(f"  ! deleting network {net_id} failed: {e}")
    for ns in state.namespaces:
        _ip("netns", "delete", ns, check=False)


def _networks(state: DemoState, ctx: RequestContext, step: Printer) -> dict[str, Any]:
    """The demo's networks, each with one subnet."""
    svc = state.service
    assert svc is not None
    nets = {}
    for name, cidr in NETWORKS:
        net = svc.create_network(ctx, name=name)
        state.networks.append(net.id)
        svc.create_subnet(ctx, network_id=net.id, cidr=cidr, gateway_ip=None)
        nets[name] = net
        step(f"network {name} {cidr} ({net.network_type}, MTU {net.mtu}) {net.id}")
    return nets


def _boot(state: DemoState, ctx: RequestContext, nets: dict[str, Any], name: str,
          netns: str | None, step: Printer, say: Printer) -> list[Nic]:
    """Boot one instance with a NIC on each network, as Nova would; its NICs."""
    assert state.provisioner is not None
    inst = {"uuid": str(uuid.uuid4()), "name": name, "project_id": "demo"}
    if netns:
        state.namespaces.append(netns)  # first: an interrupt may land in "add"
        _ip("netns", "add", netns)
        prepare_guest(netns)
    requests = [
        NicRequest(network_id=nets[net_name].id, binding_profile=(
            {"netns": netns, "ifname": ifname, "configure_ip": True} if netns else None))
        for (net_name, _), ifname in zip(NETWORKS, NIC_NAMES, strict=True)]
    state.instances.append(inst)
    t0 = time.monotonic()
    info = state.provisioner.allocate_for_instance(ctx, inst, requests, HOST)
    state.provisioner.wait_for_active(ctx, [v["id"] for v in info], timeout=10)
    state.port_ids.update(v["id"] for v in info)
    step(f"booted {name} with {len(info)} NICs in {(time.monotonic() - t0) * 1000:.0f} ms"
         + (f" (namespace {netns})" if netns else ""))
    rows, nics = [], []
    for ifname, vif in zip(NIC_NAMES, info, strict=True):
        addr = vif["network"]["subnets"][0]["ips"][0]["address"]
        rows.append([ifname, vif["network"]["label"], vif["id"][:8], vif["address"], addr,
                     vif["type"], vif["devname"], vif["details"]["mtu"], vif["active"]])
        nics.append(Nic(name, ifname, netns, vif["network"]["label"], vif["id"], addr,
                        vif["address"]))
    say(_table(["nic", "network", "port", "mac", "ip", "type", "devname", "mtu", "active"],
               rows))
    return nics


def _check_connectivity(nics: list[Nic], step: Printer, say: Printer) -> bool:
    """Print the connectivity matrix; True when it is exactly what the networks allow."""
    step("connectivity matrix (rows ping columns, each ping bound to its NIC):")
    cells, problems = connectivity_matrix(nics)
    say(_table(["from \\ to", *[n.label for n in nics]],
               [[n.label, *row] for n, row in zip(nics, cells, strict=True)]))
    for p in problems:
        say(f"  PROBLEM {p}")
    if not problems:
        say("  every NIC reaches its own network's NICs and nothing else")
    return not problems


def _boot_all(state: DemoState, database_url: str | None, real: bool, step: Printer,
              say: Printer) -> bool:
    """Networks, instances and (with namespaces) the connectivity check."""
    driver_name = "linuxbridge" if real else "noop"
    if database_url is None:
        state.tmpdir = tempfile.mkdtemp(prefix="naas-demo-")
        database_url = "sqlite:///" + os.path.join(state.tmpdir, "naas.sqlite")
    step(f"database {database_url}, driver {driver_name}, host {HOST}")
    state.service = svc = NetworkService.from_settings(
        database_url=database_url, driver=driver_name, host=HOST,
        tenant_network_types=["local"])
    state.provisioner = Provisioner(svc)
    ctx = RequestContext(project_id="demo", user_id="demo-user", roles=["member"])
    tag = uuid.uuid4().hex[:6]
    nets = _networks(state, ctx, step)
    nics: list[Nic] = []
    for i in range(1, INSTANCES + 1):
        netns = f"naas-demo-{tag}-vm{i}" if real else None
        nics += _boot(state, ctx, nets, f"vm{i}", netns, step, say)
    if not real:
        step("no connectivity matrix without namespaces (records only)")
        return True
    return _check_connectivity(nics, step, say)


def run(database_url: str | None = None, driver: str | None = None,
        say: Printer = print) -> int:
    """Run the whole demo; 0 when every check passed and nothing was left behind."""
    real = can_use_namespaces() if driver in (None, "auto") else driver == "linuxbridge"
    if not real:
        why = "not root" if os.geteuid() != 0 else "the noop driver was chosen"
        say(f"NOTE: {why}: instances are booted as database records only (noop driver); "
            "no namespaces, devices or traffic. Run as root for the real thing.")
    state = DemoState()
    start = time.monotonic()

    def step(text: str) -> None:
        say(f"[{time.monotonic() - start:6.2f}s] {text}")

    try:
        ok = _boot_all(state, database_url, real, step, say)
    except BaseException as e:
        ok = False
        if not isinstance(e, Exception):
            say("interrupted: removing everything the demo made")
            teardown(state, say)
            _finish(state)
            raise
        say(f"FAILED: {getattr(e, 'message', None) or type(e).__name__ + ': ' + str(e)}")
    step("tearing down: deallocating instances, deleting networks and namespaces")
    try:
        teardown(state, say)
        left = leftovers(state, real)
    finally:
        _finish(state)
    if left:
        ok = False
        say("LEFT BEHIND: " + ", ".join(left))
    else:
        step("nothing left behind: no ports, attachments, networks, devices or namespaces")
    step("demo " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def _finish(state: DemoState) -> None:
    if state.service is not None:
        state.service.close()
        state.service = None
    if state.tmpdir is not None:
        shutil.rmtree(state.tmpdir, ignore_errors=True)
        state.tmpdir = None


