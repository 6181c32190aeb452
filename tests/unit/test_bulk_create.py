"""create_ports with many automatic ports of one network: the bulk path (issue 13).

Multi-row inserts and addresses taken in one pass per pool, with the same
choices the port-by-port path makes: lowest free addresses for a single
writer, a freed address reused next, held addresses skipped, all or none.
"""

from __future__ import annotations

import ipaddress

import pytest
from oslo_db import exception as db_exc

from naas_lib import exceptions as exc
from tests.support.cost import count_cost


def addresses(ports) -> list[str]:
    return [f.ip_address for p in ports for f in p.fixed_ips]


def test_bulk_ports_get_the_lowest_addresses_in_order_and_distinct_macs(service, ctx, net,
                                                                       subnet):
    ports = service.create_ports(ctx, [{"network_id": net.id, "name": f"p{i}"}
                                       for i in range(40)])
    assert addresses(ports) == [f"10.0.0.{i}" for i in range(2, 42)]
    assert [p.name for p in ports] == [f"p{i}" for i in range(40)]
    assert len({p.mac_address for p in ports}) == 40
    for port in ports[:3] + ports[-3:]:
        assert service.get_port(ctx, port.id) == port  # as read back, groups included
    assert all(p.security_groups for p in ports)  # the project's default group


def test_bulk_choices_equal_the_port_by_port_choices(make_service, ctx):
    """Freed addresses first (lowest first), then never-used ones, held ones skipped."""
    results = []
    for bulk in (True, False):
        svc = make_service()
        net = svc.create_network(ctx)
        svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
        first = svc.create_ports(ctx, [{"network_id": net.id}] * 20)
        for port in (first[12], first[3], first[7]):
            svc.delete_port(ctx, port.id)
        svc.create_port(ctx, network_id=net.id, fixed_ips=[{"ip_address": "10.0.0.23"}])
        wanted = [{"network_id": net.id}] * 6
        made = svc.create_ports(ctx, wanted) if bulk else \
            [svc.create_port(ctx, **w) for w in wanted]
        results.append(addresses(made))
    assert results[0] == results[1] == ["10.0.0.5", "10.0.0.9", "10.0.0.14", "10.0.0.22",
                                        "10.0.0.24", "10.0.0.25"]


def test_bulk_gives_each_port_one_address_of_each_version(service, ctx, net, subnet):
    service.create_subnet(ctx, network_id=net.id, cidr="fd00::/64", ip_version=6)
    ports = service.create_ports(ctx, [{"network_id": net.id}] * 5)
    for port in ports:
        versions = sorted(ipaddress.ip_address(f.ip_address).version for f in port.fixed_ips)
        assert versions == [4, 6]
    assert len(set(addresses(ports))) == 10


def test_bulk_moves_on_to_the_next_subnet_and_refuses_all_when_short(service, ctx, net,
                                                                     db_unchanged):
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/29", enable_dhcp=False)
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.1.0/30", enable_dhcp=False)
    first = service.create_ports(ctx, [{"network_id": net.id}] * 4)
    assert addresses(first) == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
    with db_unchanged(), pytest.raises(exc.IpAddressGenerationFailure):
        service.create_ports(ctx, [{"network_id": net.id}] * 3)  # two addresses left
    last = service.create_ports(ctx, [{"network_id": net.id}] * 2)
    assert addresses(last) == ["10.0.0.6", "10.0.1.2"]


def test_bulk_statements_do_not_grow_with_the_ports(make_service, ctx):
    """At most one mark update per lane of the pool, whatever the number of ports."""
    counts = []
    for n in (100, 400):
        svc = make_service()
        net = svc.create_network(ctx)
        svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/16")
        svc.create_port(ctx, network_id=net.id)  # default group made, caches warm
        with count_cost(svc.db.engine) as cost:
            assert len(svc.create_ports(ctx, [{"network_id": net.id}] * n)) == n
        counts.append(len(cost.statements))
    assert counts[0] == counts[1] <= 30, counts


def test_bulk_mixes_with_requests_that_choose_their_mac_or_address(service, ctx, net, subnet):
    ports = service.create_ports(ctx, [
        {"network_id": net.id}, {"network_id": net.id, "mac_address": "fa:16:3e:00:00:01"},
        {"network_id": net.id}, {"network_id": net.id, "fixed_ips": [{"ip_address": "10.0.0.9"}]},
        {"network_id": net.id}])
    assert ports[1].mac_address == "fa:16:3e:00:00:01"
    assert addresses(ports)[3] == "10.0.0.9"
    assert len(set(addresses(ports))) == 5
    assert [service.get_port(ctx, p.id) for p in ports] == ports


@pytest.mark.parametrize("count", [1, 3])
def test_a_create_retried_after_a_lost_race_writes_its_ports(service, ctx, net, subnet,
                                                             monkeypatch, count):
    """The retried transaction inserts again: nothing from the lost attempt is trusted.

    The race is lost after the writes (as Galera reports it at commit).
    """
    lifecycle = service.parts.lifecycle
    real, lost = lifecycle.precommit, []

    def lose_once(*args, **kwargs):
        real(*args, **kwargs)
        if not lost:
            lost.append(True)
            raise db_exc.RetryRequest(exc.ConcurrentModification(resource="Port",
                                                                 resource_id="test"))

    monkeypatch.setattr(lifecycle, "precommit", lose_once)
    ports = service.create_ports(ctx, [{"network_id": net.id}] * count)
    assert lost == [True]
    assert [service.get_port(ctx, p.id) for p in ports] == ports
    for port in ports:  # the address is held by that port in the database
        held = service.list_ports(ctx, fixed_ips={"ip_address": port.fixed_ips[0].ip_address})
        assert [p.id for p in held] == [port.id]
