"""Real traffic between namespace guests: who can reach whom.

A *guest* is a port whose ``binding_profile`` names a network namespace
(``{"netns": NAME, ...}``): the driver moved the guest end of the port's
device there, so pinging from inside that namespace is what a VM on the port
would see. :func:`check_network` pings from every guest of a network to every
address of every other guest of that network (these must answer) and of the
guests of other networks (these must not), and returns the matrix. With
port security, a pair of the same network that the ports' security groups do
not allow (:mod:`.reachability`) is expected not to answer: its cell reads
``filtered``, and only an answer is a problem (a leak).

A reply only counts when it came from the target port: after a ping the
source's neighbour entry for the address must hold the target's MAC, so a
guest of the same network that happens to use the same address as a guest
of another network is not mistaken for a leak (nor for connectivity).

Operator tooling, not the hot path: it runs ``ip netns exec ... ping`` and
needs root. Used by ``naas check`` and ``naas demo``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import subprocess
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from naas_lib import objects
from naas_lib.cli import pinging
from naas_lib.cli.reachability import GroupPolicy
from naas_lib.context import RequestContext

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

#: Matrix cell values.
REACHED = "ok"  # expected and reached
UNREACHED = "FAIL"  # expected, not reached
ISOLATED = "isolated"  # not expected, not reached
FILTERED = "filtered"  # same network, not allowed by the security groups, not reached
LEAK = "LEAK"  # not expected, reached


@dataclasses.dataclass(frozen=True)
class Guest:
    """A port realized as an interface inside a namespace."""

    port_id: str
    name: str
    network_id: str
    netns: str
    mac: str
    addresses: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.name or self.port_id[:8]


@dataclasses.dataclass(frozen=True)
class Probe:
    """One ping from a guest to one address of another guest."""

    source: str
    target: str
    address: str
    expected: bool
    reached: bool
    detail: str = ""
    filtered: bool = False  # not expected because the security groups do not allow it

    @property
    def ok(self) -> bool:
        return self.expected == self.reached


@dataclasses.dataclass
class ConnectivityReport:
    """The probes of one check, and the matrix they make."""

    network_id: str
    guests: list[Guest]
    probes: list[Probe]

    @property
    def problems(self) -> list[Probe]:
        """Pairs that should talk and cannot, or must not and can."""
        return [p for p in self.probes if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.problems

    def cell(self, source: str, target: str) -> str:
        """The matrix cell of two port ids ("-" when nothing was probed)."""
        probes = [p for p in self.probes if p.source == source and p.target == target]
        if not probes:
            return "-"
        expected = probes[0].expected
        if expected:
            return REACHED if all(p.reached for p in probes) else UNREACHED
        if any(p.reached for p in probes):
            return LEAK
        return FILTERED if probes[0].filtered else ISOLATED

    def matrix(self) -> list[list[str]]:
        """Rows: the network's guests as sources; columns: every guest as target."""
        sources = [g for g in self.guests if g.network_id == self.network_id]
        return [[self.cell(s.port_id, t.port_id) if s.port_id != t.port_id else "."
                 for t in self.guests] for s in sources]

    def to_dict(self) -> dict[str, Any]:
        return {"network_id": self.network_id, "ok": self.ok,
                "guests": [dataclasses.asdict(g) for g in self.guests],
                "probes": [dict(dataclasses.asdict(p), ok=p.ok) for p in self.probes]}


# -- finding guests --------------------------------------------------------------


def guest_of(port: objects.Port) -> Guest | None:
    """The guest a port is, or None when it is not bound into a namespace."""
    netns = port.binding_profile.get("netns")
    if not netns or not port.binding_host_id:
        return None
    return Guest(port_id=port.id, name=port.name, network_id=port.network_id,
                 netns=str(netns), mac=port.mac_address.lower(),
                 addresses=tuple(f.ip_address for f in port.fixed_ips))


def find_guests(service: NetworkService, context: RequestContext,
                network_ids: Iterable[str] | None = None) -> list[Guest]:
    """Namespace guests the caller may see (of ``network_ids``, or of every network)."""
    filters = {} if network_ids is None else {"network_id": list(network_ids)}
    ports = service.list_ports(context, **filters)
    guests = [g for g in (guest_of(p) for p in ports) if g is not None]
    return sorted(guests, key=lambda g: (g.network_id, g.label, g.port_id))


# -- probing ----------------------------------------------------------------------


def _neighbour_mac(netns: str, address: str) -> str | None:
    out = subprocess.run(["ip", "-n", netns, "-j", "neigh", "show", "to", address],
                         capture_output=True, text=True, timeout=10)
    try:
        entries = json.loads(out.stdout or "[]")
    except ValueError:
        return None
    for entry in entries:
        if entry.get("lladdr"):
            return str(entry["lladdr"]).lower()
    return None


def ping(netns: str, address: str, deadline: float = 2.0) -> bool:
    """Whether ``address`` answers an echo request from inside ``netns`` within ``deadline``
    (asked again after an ICMP error, see :mod:`.pinging`)."""
    return pinging.ping(netns, address, deadline)


def probe(source: Guest, target: Guest, address: str, expected: bool,
          deadline: float = 2.0, filtered: bool = False) -> Probe:
    """Ping ``address`` of ``target`` from ``source`` and check who answered."""
    replied = ping(source.netns, address, deadline)
    detail = ""
    reached = replied
    if replied:
        mac = _neighbour_mac(source.netns, address)
        if mac is not None and mac != target.mac:
            reached = False
            detail = f"answered by {mac}, not {target.mac}"
    elif expected:
        detail = "no reply"
    if filtered and reached:
        detail = "the security groups do not allow it"
    return Probe(source=source.port_id, target=target.port_id, address=address,
                 expected=expected, reached=reached, detail=detail, filtered=filtered)


def probe_all(sources: Sequence[Guest], targets: Sequence[Guest], network_id: str,
              deadline: float = 2.0, workers: int = 8,
              policy: GroupPolicy | None = None) -> list[Probe]:
    """Every (source, target address) pair, run in parallel; sources of ``network_id``.

    An address the source holds itself is skipped: the source's own stack
    would answer it, which proves nothing about the target. With ``policy``,
    a pair of the network that the security groups do not allow is expected
    not to answer (``filtered``).
    """
    jobs = []
    for s in sources:
        for t in targets:
            if s.port_id == t.port_id:
                continue
            for a in t.addresses:
                if a in s.addresses:
                    continue
                filtered = (t.network_id == network_id and policy is not None
                            and not policy.allows(s.port_id, t.port_id, a))
                jobs.append((s, t, a, t.network_id == network_id and not filtered, filtered))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(probe, s, t, a, expected, deadline, filtered)
                   for s, t, a, expected, filtered in jobs]
        return [f.result() for f in futures]


def check_network(service: NetworkService, context: RequestContext, network_id: str,
                  isolation: bool = True, deadline: float = 2.0,
                  workers: int = 8) -> ConnectivityReport:
    """Ping between the guests of a network, and towards other networks' guests.

    Guests of ``network_id`` must reach each other on every address the ports'
    security groups allow (and must not reach the others); with ``isolation``,
    they must reach no guest of another network.
    """
    net = service.get_network(context, network_id)
    everyone = find_guests(service, context, None if isolation else [net.id])
    own = [g for g in everyone if g.network_id == net.id]
    targets = own + [g for g in everyone if g.network_id != net.id]
    policy = GroupPolicy.of(service, context)
    probes = probe_all(own, targets, net.id, deadline, workers, policy)
    return ConnectivityReport(network_id=net.id, guests=targets, probes=probes)
