"""The Quantum v1.0 rules, tenancy and IPAM as a model the service must agree with.

A hypothesis state machine runs random sequences of creates, updates,
attaches, detaches and deletes of networks, subnets and ports from two
projects, and after every step compares the service with a small in-memory
model:

- another project's network, subnet or port is "not found", never changed;
- deleting a network with an attached port is NetworkInUse, an attached port
  PortInUse, a subnet with addresses SubnetInUse; attaching an attached port is
  AlreadyAttached, an interface used elsewhere InterfaceInUse;
- addresses are unique, inside their subnet's pools, freed with their port,
  and a pool runs out exactly when all its addresses are taken;
- every change raises the resource's revision_number.

``NAAS_HYPOTHESIS_PROFILE=nightly`` runs many more and longer sequences.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field

import netaddr
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc

PROFILE = os.environ.get("NAAS_HYPOTHESIS_PROFILE", "ci")
RUNS = {"ci": (25, 25), "nightly": (1500, 60)}[PROFILE]  # (sequences, steps each)

PROJECTS = {
    "a": RequestContext(project_id="project-a", user_id="alice", roles=["member"]),
    "b": RequestContext(project_id="project-b", user_id="bob", roles=["member"]),
}
ADMIN = RequestContext(project_id="admin-project", user_id="admin", roles=["admin"])
STEPS: collections.Counter[str] = collections.Counter()
# Names the service stores as given (hostile ones are tests/db/test_property_inputs.py's job).
NAMES = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=8)


@dataclass
class MNet:
    project: str
    subnet: str | None = None
    revision: int = 0


@dataclass
class MSubnet:
    network: str
    project: str
    pool: set[str] = field(default_factory=set)


@dataclass
class MPort:
    network: str
    project: str
    ips: set[str] = field(default_factory=set)
    interface: str | None = None
    revision: int = 0


def _pool(subnet) -> set[str]:
    addrs: set[str] = set()
    for p in subnet.allocation_pools:
        addrs.update(str(a) for a in netaddr.IPRange(p.start, p.end))
    return addrs


class QuantumModel(RuleBasedStateMachine):
    networks = Bundle("networks")
    ports = Bundle("ports")

    def __init__(self) -> None:
        super().__init__()
        self.service = NetworkService.from_settings(database_url="sqlite://")
        self.nets: dict[str, MNet] = {}
        self.subnets: dict[str, MSubnet] = {}
        self.ports_: dict[str, MPort] = {}
        self.next_cidr = 0

    def teardown(self) -> None:
        self.service.close()

    # -- helpers ------------------------------------------------------------

    def _expect(self, error: type[exc.NaasError], call, *args, **kwargs):
        with pytest.raises(error):
            call(*args, **kwargs)

    def _owner_ok(self, who: str, owner: str) -> bool:
        return who == owner

    # -- networks -------------------------------------------------------------

    @rule(target=networks, who=st.sampled_from(sorted(PROJECTS)))
    def create_network(self, who):
        STEPS["create_network"] += 1
        net = self.service.create_network(PROJECTS[who], name=f"n-{who}")
        assert net.project_id == PROJECTS[who].project_id
        self.nets[net.id] = MNet(who, revision=net.revision_number)
        return net.id

    @rule(net=networks, who=st.sampled_from(sorted(PROJECTS)), name=NAMES)
    def update_network(self, net, who, name):
        STEPS["update_network"] += 1
        model = self.nets.get(net)
        if model is None or model.project != who:
            self._expect(exc.NetworkNotFound, self.service.update_network,
                         PROJECTS[who], net, name=name)
            return
        updated = self.service.update_network(PROJECTS[who], net, name=name)
        assert updated.name == name and updated.revision_number > model.revision
        model.revision = updated.revision_number

    @rule(net=networks, who=st.sampled_from(sorted(PROJECTS)))
    def delete_network(self, net, who):
        STEPS["delete_network"] += 1
        model = self.nets.get(net)
        if model is None or model.project != who:
            self._expect(exc.NetworkNotFound, self.service.delete_network, PROJECTS[who], net)
            return
        on_net = [p for p, m in self.ports_.items() if m.network == net]
        if any(self.ports_[p].interface for p in on_net):
            self._expect(exc.NetworkInUse, self.service.delete_network, PROJECTS[who], net)
            return
        self.service.delete_network(PROJECTS[who], net)
        for p in on_net:  # unattached ports and the subnet go with the network
            del self.ports_[p]
        if model.subnet:
            del self.subnets[model.subnet]
        del self.nets[net]

    # -- subnets --------------------------------------------------------------

    @rule(net=networks, who=st.sampled_from(sorted(PROJECTS)))
    def create_subnet(self, net, who):
        STEPS["create_subnet"] += 1
        model = self.nets.get(net)
        cidr = f"10.{self.next_cidr // 250}.{self.next_cidr % 250}.0/29"
        if model is None or model.project != who:
            self._expect(exc.NetworkNotFound, self.service.create_subnet, PROJECTS[who],
                         network_id=net, cidr=cidr)
            return
        if model.subnet is not None:
            return  # one subnet per network keeps the pools easy to reason about
        self.next_cidr += 1
        sub = self.service.create_subnet(PROJECTS[who], network_id=net, cidr=cidr)
        pool = _pool(sub)
        assert pool and all(netaddr.IPAddress(a) in netaddr.IPNetwork(cidr) for a in pool)
        model.subnet = sub.id
        self.subnets[sub.id] = MSubnet(net, who, pool)

    @precondition(lambda self: self.subnets)
    @rule(data=st.data(), who=st.sampled_from(sorted(PROJECTS)))
    def delete_subnet(self, data, who):
        STEPS["delete_subnet"] += 1
        sub = data.draw(st.sampled_from(sorted(self.subnets)))
        model = self.subnets[sub]
        if model.project != who:
            self._expect(exc.SubnetNotFound, self.service.delete_subnet, PROJECTS[who], sub)
            return
        used = [p for p in self.ports_.values() if p.ips & model.pool]
        if used:
            self._expect(exc.SubnetInUse, self.service.delete_subnet, PROJECTS[who], sub)
            return
        self.service.delete_subnet(PROJECTS[who], sub)
        self.nets[model.network].subnet = None
        del self.subnets[sub]

    # -- ports ------------------------------------------------------------------

    @rule(target=ports, net=networks, who=st.sampled_from(sorted(PROJECTS)))
    def create_port(self, net, who):
        STEPS["create_port"] += 1
        model = self.nets.get(net)
        if model is None or model.project != who:
            self._expect(exc.NetworkNotFound, self.service.create_port, PROJECTS[who],
                         network_id=net)
            return "gone"
        taken = {ip for p in self.ports_.values() for ip in p.ips}
        if model.subnet and self.subnets[model.subnet].pool <= taken:
            self._expect(exc.IpAddressGenerationFailure, self.service.create_port,
                         PROJECTS[who], network_id=net)
            return "gone"
        port = self.service.create_port(PROJECTS[who], network_id=net)
        ips = {f.ip_address for f in port.fixed_ips}
        if model.subnet:
            assert len(ips) == 1 and ips <= self.subnets[model.subnet].pool - taken
        else:
            assert not ips
        self.ports_[port.id] = MPort(net, who, ips, revision=port.revision_number)
        return port.id

    @rule(port=ports, who=st.sampled_from(sorted(PROJECTS)), name=NAMES)
    def update_port(self, port, who, name):
        STEPS["update_port"] += 1
        model = self.ports_.get(port)
        if model is None or model.project != who:
            self._expect(exc.PortNotFound, self.service.update_port, PROJECTS[who], port,
                         name=name)
            return
        updated = self.service.update_port(PROJECTS[who], port, name=name)
        assert updated.name == name and updated.revision_number > model.revision
        model.revision = updated.revision_number

    @rule(port=ports, who=st.sampled_from(sorted(PROJECTS)),
          iface=st.sampled_from(["vif-1", "vif-2", "vif-3", "vif-4"]))
    def attach(self, port, who, iface):
        STEPS["attach"] += 1
        model = self.ports_.get(port)
        call = self.service.attach_port
        if model is None or model.project != who:
            self._expect(exc.PortNotFound, call, PROJECTS[who], port, interface_id=iface)
            return
        if model.interface is not None:
            self._expect(exc.AlreadyAttached, call, PROJECTS[who], port, interface_id=iface)
            return
        if any(p.interface == iface for p in self.ports_.values()):
            self._expect(exc.InterfaceInUse, call, PROJECTS[who], port, interface_id=iface)
            return
        att = call(PROJECTS[who], port, interface_id=iface)
        assert att.port_id == port and att.interface_id == iface
        model.interface = iface
        model.revision = self.service.get_port(PROJECTS[who], port).revision_number

    @rule(port=ports, who=st.sampled_from(sorted(PROJECTS)))
    def detach(self, port, who):
        STEPS["detach"] += 1
        model = self.ports_.get(port)
        if model is None or model.project != who:
            self._expect(exc.PortNotFound, self.service.detach_port, PROJECTS[who], port)
            return
        att = self.service.detach_port(PROJECTS[who], port)
        assert (att.interface_id if att else None) == model.interface
        model.interface = None
        after = self.service.get_port(PROJECTS[who], port).revision_number
        assert after >= model.revision
        model.revision = after

    @rule(port=consumes(ports), who=st.sampled_from(sorted(PROJECTS)))
    def delete_port(self, port, who):
        STEPS["delete_port"] += 1
        model = self.ports_.get(port)
        if model is None or model.project != who:
            self._expect(exc.PortNotFound, self.service.delete_port, PROJECTS[who], port)
            return
        if model.interface is not None:
            self._expect(exc.PortInUse, self.service.delete_port, PROJECTS[who], port)
            return
        self.service.delete_port(PROJECTS[who], port)
        del self.ports_[port]

    # -- what must hold after every step ---------------------------------------

    @invariant()
    def each_project_sees_exactly_its_own(self):
        for who, ctx in PROJECTS.items():
            nets = {n.id for n in self.service.list_networks(ctx)}
            assert nets == {n for n, m in self.nets.items() if m.project == who}
            ports = {p.id for p in self.service.list_ports(ctx)}
            assert ports == {p for p, m in self.ports_.items() if m.project == who}

    @invariant()
    def addresses_unique_inside_pools_and_as_modelled(self):
        seen: set[str] = set()
        for port in self.service.list_ports(ADMIN):
            ips = {f.ip_address for f in port.fixed_ips}
            assert not ips & seen, f"duplicate address {ips & seen}"
            seen |= ips
            model = self.ports_[port.id]
            assert ips == model.ips
            for f in port.fixed_ips:
                assert f.ip_address in self.subnets[f.subnet_id].pool
            attached = self.service.get_port(ADMIN, port.id)
            assert attached.revision_number >= model.revision


QuantumModel.TestCase.settings = settings(
    max_examples=RUNS[0], stateful_step_count=RUNS[1], deadline=None, database=None,
    derandomize=PROFILE == "ci", suppress_health_check=list(HealthCheck))


def test_service_agrees_with_the_quantum_model():
    STEPS.clear()
    QuantumModel.TestCase("runTest").runTest()
    print(f"stateful model ({PROFILE}): {RUNS[0]} sequences, {sum(STEPS.values())} steps: "
          f"{dict(sorted(STEPS.items()))}")
