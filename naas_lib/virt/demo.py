"""``naas demo``: boot three two-NIC instances, prove who reaches whom, leave nothing.

As root with the linuxbridge driver the instances are real VMs when QEMU can
run here (``--guests qemu``, see :mod:`.demo_qemu`): QEMU guests on the
library's taps that get their addresses from the driver's DHCP responders
(on by default) and ping each other. Otherwise (``--guests namespace``, or
``auto`` without QEMU, which says so) each instance is a network namespace
whose ``eth0``/``eth1`` are the guest ends of its ports, addressed by the
driver; pings bound to each NIC fill the connectivity matrix. Either way the
ports are made through the provisioner exactly as a Nova boot would. Without
root the same boots run with the noop driver as database records only, and
the demo says so. Everything is torn down at the end, also on failure or
Ctrl-C, and the demo checks that no port, attachment, device, namespace,
QEMU process, DHCP responder or state file is left.
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
from naas_lib.guests.image import GuestImage
from naas_lib.guests.runner import Guest
from naas_lib.service import NetworkService
from naas_lib.virt import demo_qemu
from naas_lib.virt.provisioner import NicRequest, Provisioner

#: The demo's compute host; each run adds a unique tag (its responders' names carry it).
HOST = "demo-host"
NETWORKS = (("blue", "10.71.1.0/24"), ("green", "10.71.2.0/24"))
INSTANCES = 3
NIC_NAMES = ("eth0", "eth1")
#: The DHCP responders' state directory inside the demo's temporary directory.
DHCP_DIR = "dhcp"

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
    devname: str = ""

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
    guests: dict[str, Guest] = dataclasses.field(default_factory=dict)


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


def connectivity_matrix(nics: list[Nic], reached: Callable[[Nic, Nic], bool] | None = None
                        ) -> tuple[list[list[str]], list[str]]:
    """Ping every NIC from every other instance's NICs; cells and a list of problems.

    Same network: must answer ("ok", else "FAIL"). Different networks: must
    not ("isolated", else "LEAK"). ``reached`` says whether a source NIC got
    its target's answer (QEMU guests report their own pings); by default
    :func:`ping` from the source's namespace.
    """
    jobs = [(s, t) for s in nics for t in nics if s.instance != t.instance]
    if reached is None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            replies = list(pool.map(lambda st: ping(st[0].netns, st[0].ifname,
                                                    st[1].address, st[1].mac), jobs))
    else:
        replies = [reached(s, t) for s, t in jobs]
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
    """Everything of the demo still present: rows, devices, namespaces, QEMU, DHCP."""
    found: list[str] = [f"QEMU guest {name}" for name, g in state.guests.items()
                        if g.running()]
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
        found += _dhcp_leftovers(state)
    return found


def _dhcp_leftovers(state: DemoState) -> list[str]:
    """dnsmasq processes and state files under the demo's own DHCP state directory.

    (The responders' namespaces and veths would show in the ``sync`` report.)
    """
    if state.tmpdir is None:
        return []
    root = os.path.join(state.tmpdir, DHCP_DIR)
    found = [f"dnsmasq {pid}" for pid in _processes_mentioning(root, "dnsmasq")]
    for base, _dirs, files in os.walk(root):
        found += [f"DHCP state file {os.path.join(base, f)}" for f in files]
    return found


def _processes_mentioning(path: str, program: str) -> list[int]:
    """Pids of ``program`` processes with ``path`` in their command line."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if (entry.isdigit() and os.path.basename(argv[0]) == program.encode()
                and any(os.fsencode(path) in a for a in argv)):
            pids.append(int(entry))
    return pids


def teardown(state: DemoState, say: Printer) -> None:
    """Stop the guests, deallocate every instance, delete networks and namespaces."""
    for name in demo_qemu.stop_all(state.guests):
        say(f"  ! QEMU guest {name} would not stop")
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
    """Boot one instance with a NIC on each network, as Nova would; its NICs.

    With ``netns`` the NICs are veths into that namespace, addressed by the
    driver; without, they are taps for a VM (addressed by DHCP).
    """
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
    info = state.provisioner.allocate_for_instance(ctx, inst, requests, state.service.host)
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
                        vif["address"], vif["devname"]))
    say(_table(["nic", "network", "port", "mac", "ip", "type", "devname", "mtu", "active"],
               rows))
    return nics


def _check_connectivity(nics: list[Nic], step: Printer, say: Printer) -> bool:
    """Print the connectivity matrix; True when it is exactly what the networks allow."""
    step("connectivity matrix (rows ping columns, each ping bound to its NIC):")
    return _show_matrix(nics, None, say)


def _show_matrix(nics: list[Nic], reached: Callable[[Nic, Nic], bool] | None,
                 say: Printer) -> bool:
    cells, problems = connectivity_matrix(nics, reached)
    say(_table(["from \\ to", *[n.label for n in nics]],
               [[n.label, *row] for n, row in zip(nics, cells, strict=True)]))
    for p in problems:
        say(f"  PROBLEM {p}")
    if not problems:
        say("  every NIC reaches its own network's NICs and nothing else")
    return not problems


def _boot_all(state: DemoState, database_url: str | None, mode: str, step: Printer,
              say: Printer) -> bool:
    """Networks, instances and (with real guests) the DHCP and connectivity checks."""
    real = mode != "records"
    driver_name = "linuxbridge" if real else "noop"
    state.tmpdir = tempfile.mkdtemp(prefix="naas-demo-")
    if database_url is None:
        database_url = "sqlite:///" + os.path.join(state.tmpdir, "naas.sqlite")
    tag = uuid.uuid4().hex[:6]
    host = f"{HOST}-{tag}"
    image = demo_qemu.image(step) if mode == "qemu" else None
    step(f"database {database_url}, driver {driver_name}, host {host}, guests: "
         + {"qemu": "QEMU VMs (DHCP)", "namespace": "network namespaces",
            "records": "none"}[mode])
    # The responders' files in the demo's own directory (DHCP is on by default).
    state.service = svc = NetworkService.from_settings(
        database_url=database_url, driver=driver_name, host=host,
        tenant_network_types=["local"],
        **({"linuxbridge": {"dhcp_state_path": os.path.join(state.tmpdir, DHCP_DIR)}}
           if real else {}))
    state.provisioner = Provisioner(svc)
    ctx = RequestContext(project_id="demo", user_id="demo-user", roles=["member"])
    nets = _networks(state, ctx, step)
    nics: list[Nic] = []
    for i in range(1, INSTANCES + 1):
        netns = f"naas-demo-{tag}-vm{i}" if mode == "namespace" else None
        nics += _boot(state, ctx, nets, f"vm{i}", netns, step, say)
    if not real:
        step("no connectivity matrix without namespaces (records only)")
        return True
    if mode == "namespace":
        return _check_connectivity(nics, step, say)
    assert image is not None
    return _run_vms(state, nics, image(), step, say)


def _run_vms(state: DemoState, nics: list[Nic], built: GuestImage, step: Printer,
             say: Printer) -> bool:
    """Boot a QEMU guest per instance on its taps; check DHCP, then the matrix."""
    assert state.tmpdir is not None
    for name in dict.fromkeys(n.instance for n in nics):
        own = [n for n in nics if n.instance == name]
        targets = [n.address for n in nics if n.instance != name]
        # Recorded before it starts: an interrupt during the start still stops it.
        guest = state.guests[name] = demo_qemu.guest(
            name, [(n.devname, n.mac) for n in own], targets, built, state.tmpdir)
        guest.start()
    step(f"started {len(state.guests)} QEMU guests (microvm, TCG) on the ports' taps")
    problems = demo_qemu.leases(state.guests, nics, step, say, _table)
    for p in problems:
        say(f"  PROBLEM {p}")
    step("connectivity matrix (rows ping columns; each guest pings from each NIC):")
    return _show_matrix(nics, demo_qemu.reach(state.guests), say) and not problems


def run(database_url: str | None = None, driver: str | None = None,
        say: Printer = print, guests: str = "auto") -> int:
    """Run the whole demo; 0 when every check passed and nothing was left behind.

    ``guests``: ``auto`` (QEMU VMs when possible, else namespaces), ``qemu``
    or ``namespace``; 2 when ``qemu`` was asked for and cannot run here.
    """
    real = can_use_namespaces() if driver in (None, "auto") else driver == "linuxbridge"
    if not real:
        why = "not root" if os.geteuid() != 0 else "the noop driver was chosen"
        say(f"NOTE: {why}: instances are booted as database records only (noop driver); "
            "no namespaces, devices or traffic. Run as root for the real thing.")
    try:
        mode = demo_qemu.choose(guests, real, say)
    except demo_qemu.QemuUnavailable as e:
        say(f"FAILED: {e}")
        return 2
    state = DemoState()
    start = time.monotonic()

    def step(text: str) -> None:
        say(f"[{time.monotonic() - start:6.2f}s] {text}")

    try:
        ok = _boot_all(state, database_url, mode, step, say)
    except BaseException as e:
        ok = False
        if not isinstance(e, Exception):
            say("interrupted: removing everything the demo made")
            teardown(state, say)
            _finish(state)
            raise
        say(f"FAILED: {getattr(e, 'message', None) or type(e).__name__ + ': ' + str(e)}")
    step("tearing down: stopping guests, deallocating instances, deleting networks and "
         "namespaces")
    try:
        teardown(state, say)
        left = leftovers(state, real)
    finally:
        _finish(state)
    if left:
        ok = False
        say("LEFT BEHIND: " + ", ".join(left))
    else:
        step("nothing left behind: no ports, attachments, networks, devices, namespaces, "
             "QEMU processes or DHCP responders")
    step("demo " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def _finish(state: DemoState) -> None:
    if state.service is not None:
        state.service.close()
        state.service = None
    if state.tmpdir is not None:
        shutil.rmtree(state.tmpdir, ignore_errors=True)
        state.tmpdir = None


