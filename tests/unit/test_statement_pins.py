"""The SQL statements and transactions of the port lifecycle, pinned in one table.

Counts, not timings: a change that adds a statement to one of these paths
fails here on any machine. A change that must add statements (a new feature
on the same path) raises the pin in the same commit and says why, in a
comment next to the pin. Measured on an embedded SQLite file (the library's
own BEGIN IMMEDIATE / BEGIN per transaction counts as one statement and marks
one transaction), noop driver, a project with its default security group,
caches warm (a first operation of each kind ran before).
"""

from __future__ import annotations

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.support.cost import Cost, count_cost

#: operation -> (statements, transactions)
PINS: dict[str, tuple[int, int]] = {
    # BEGIN, network, port, binding, pool read, lane, address check, address,
    # default security group membership (issue 11).
    "create_port": (9, 1),
    # BEGIN, port row with binding and attachment, its children, network, UPDATE.
    "update_port": (5, 1),
    # One write transaction (12: BEGIN, port row, its children, network, release 5,
    # its group membership, binding, port) and the port-security host side's read
    # of the port's groups (issue 11).
    "delete_port": (14, 2),
    # Port security's read of the revisions of the port's groups (1 query, issue 11)
    # runs inside the attach's write transaction, not in a reader of its own before
    # the plug (was 14, 3): the driver holds the groups at those revisions, so their
    # rules and members are not read again.
    "attach_port": (13, 2),
    # ONE write transaction for everything but the statuses (14): the networks
    # checked for the caller and read in one statement (was a reader of its own and
    # one statement per network); both ports inserted in one statement already
    # attached and bound (status, device, revision, binding: no UPDATE of ports or
    # bindings afterwards), addresses chosen for both networks at once (3: their
    # pools read, the lane marks moved, the candidates checked; was 3 per network)
    # and inserted for both in one statement, default group
    # membership for both in one statement, both bindings and both attachments in
    # one insert each (no interface check: each interface id is its new port's own
    # id); then, in the same transaction, the revisions of the networks' subnets
    # (subnet objects are reused while their revision stands; a changed or new one
    # is read with its pools, DNS servers and routes) with the responders' reserved
    # addresses in the same statement (was 2, 18 in all), and port
    # security's group revisions for the plug (issue 13: was 3 reader transactions;
    # this host's capabilities are those it registered, not read). ONE status write
    # for both NICs (2). No port is read again. Was 32 statements in 5 transactions.
    "boot_2_nics": (14, 2),
    # ONE write that reads the instance's attachments and detaches both ports (12:
    # the attachment read was a reader transaction of its own, 2 statements, before
    # detach_instance; both ports, their attachments and networks read in one
    # statement each, then one statement per table for all; was 18); ONE write
    # deleting both (its own ports: 16: read as in detach, addresses released, then
    # one delete per table; was 23); port security's host-side read (2).
    "teardown_2_nics": (29, 3),
}

HOST = "pin-host"


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict[str, Cost]:
    """The cost of each pinned operation, measured once."""
    path = tmp_path_factory.mktemp("pins") / "naas.sqlite"
    svc = NetworkService.from_settings(database_url=f"sqlite:///{path}", host=HOST,
                                       tenant_network_types=["local"], create_schema=True)
    ctx = RequestContext(project_id="p", user_id="u", roles=["member"])
    admin = RequestContext(project_id="a", user_id="nova", roles=["admin"])
    costs: dict[str, Cost] = {}
    try:
        nets = [svc.create_network(ctx, name=f"n{i}") for i in range(2)]
        for i, net in enumerate(nets):
            svc.create_subnet(ctx, network_id=net.id, cidr=f"10.{i}.0.0/24")
        warm = svc.create_port(ctx, network_id=nets[0].id)
        svc.update_port(ctx, warm.id, name="warm")
        svc.attach_port(ctx, warm.id, interface_id="warm", instance_id="warm", host=HOST)
        with count_cost(svc.db.engine) as costs["create_port"]:
            port = svc.create_port(ctx, network_id=nets[0].id)
        with count_cost(svc.db.engine) as costs["update_port"]:
            svc.update_port(ctx, port.id, name="renamed")
        spare = svc.create_port(ctx, network_id=nets[0].id)
        with count_cost(svc.db.engine) as costs["attach_port"]:
            svc.attach_port(ctx, port.id, interface_id="if-1", instance_id="vm-0", host=HOST)
        with count_cost(svc.db.engine) as costs["delete_port"]:
            svc.delete_port(ctx, spare.id)
        prov = Provisioner(svc)
        nics = [NicRequest(network_id=n.id) for n in nets]
        prov.allocate_for_instance(admin, {"uuid": "warm", "project_id": "p"}, nics, HOST)
        prov.deallocate_for_instance(admin, {"uuid": "warm", "project_id": "p"})
        with count_cost(svc.db.engine) as costs["boot_2_nics"]:
            info = prov.allocate_for_instance(admin, {"uuid": "vm-1", "project_id": "p"}, nics,
                                              HOST)
        assert len(info) == 2 and all(vif["active"] for vif in info)
        with count_cost(svc.db.engine) as costs["teardown_2_nics"]:
            prov.deallocate_for_instance(admin, {"uuid": "vm-1", "project_id": "p"})
        assert [p.id for p in svc.list_ports(ctx)] == sorted([warm.id, port.id])
    finally:
        svc.close()
    return costs


def shape(cost: Cost) -> tuple[int, int]:
    """(statements, transactions): each transaction starts with the library's BEGIN."""
    return len(cost.statements), sum(1 for s in cost.statements
                                     if s.lstrip().upper().startswith("BEGIN"))


@pytest.mark.parametrize("operation", sorted(PINS))
def test_statements_and_transactions_are_pinned(measured, operation):
    got = shape(measured[operation])
    listing = "\n".join(" ".join(s.split())[:120] for s in measured[operation].statements)
    assert got == PINS[operation], (
        f"{operation}: {got[0]} statements in {got[1]} transactions, pinned "
        f"{PINS[operation]}; if the change must add them, raise the pin and say why:\n"
        + listing)
