"""Every kind of bad input raises its typed error and leaves the database exactly as it was.

Each case runs against a populated database (a network with an IPv4 subnet
and two ports) and compares every row of every table before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib import exceptions as exc
from tests.unit.conftest import unchanged


@dataclass
class World:
    service: Any
    ctx: Any
    admin: Any
    net: Any
    subnet: Any
    port: Any
    spare_port: Any
    small_net: Any


@pytest.fixture(scope="module")
def world():
    """One populated database for every case: each case proves it changed nothing."""
    service = NetworkService.from_settings(database_url="sqlite://")
    ctx = RequestContext(project_id="project-a", user_id="alice", roles=["member"])
    admin_ctx = RequestContext(project_id="admin-project", user_id="admin", roles=["admin"])
    net = service.create_network(ctx, name="net")
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24",
                                allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}])
    port, spare = service.create_ports(ctx, [{"network_id": net.id}] * 2)
    small = service.create_network(ctx, name="small", mtu=1000)
    yield World(service, ctx, admin_ctx, net, sub, port, spare, small)
    service.close()


def net_create(**kw) -> Callable[[World], Any]:
    return lambda w: w.service.create_network(w.ctx, **kw)


def sub_create(**kw) -> Callable[[World], Any]:
    return lambda w: w.service.create_subnet(w.ctx, **{"network_id": w.net.id, **kw})


def port_create(**kw) -> Callable[[World], Any]:
    return lambda w: w.service.create_port(w.ctx, **{"network_id": w.net.id, **kw})


def port_update(**kw) -> Callable[[World], Any]:
    return lambda w: w.service.update_port(w.ctx, w.port.id, **kw)


def sub_update(**kw) -> Callable[[World], Any]:
    return lambda w: w.service.update_subnet(w.ctx, w.subnet.id, **kw)


def net_update(**kw) -> Callable[[World], Any]:
    return lambda w: w.service.update_network(w.ctx, w.net.id, **kw)


def taken_ip(w: World) -> Any:
    return w.service.create_port(w.ctx, network_id=w.net.id,
                                 fixed_ips=[{"ip_address": w.port.fixed_ips[0].ip_address}])


def taken_mac(w: World) -> Any:
    return w.service.create_port(w.ctx, network_id=w.net.id, mac_address=w.port.mac_address)


def gateway_into_pool(w: World) -> Any:
    return w.service.update_subnet(w.ctx, w.subnet.id, gateway_ip="10.0.0.15")


CASES = {
    # malformed CIDR
    "cidr host bits": (sub_create(cidr="10.1.0.1/24"), exc.InvalidCIDR),
    "cidr garbage": (sub_create(cidr="ten/8"), exc.InvalidCIDR),
    "cidr no prefix": (sub_create(cidr="10.1.0.0"), exc.InvalidCIDR),
    "cidr too long prefix": (sub_create(cidr="10.1.0.0/32"), exc.InvalidCIDR),
    "cidr wrong version": (sub_create(cidr="10.1.0.0/24", ip_version=6), exc.InvalidCIDR),
    "cidr not a string": (sub_create(cidr=167837696), exc.InvalidCIDR),
    # malformed MAC
    "mac garbage": (port_create(mac_address="fa:16:3e:zz:00:01"), exc.InvalidInput),
    "mac truncated": (port_create(mac_address="fa:16:3e"), exc.InvalidInput),
    "mac multicast": (port_create(mac_address="01:00:5e:00:00:01"), exc.InvalidInput),
    "mac on update": (port_update(mac_address="nope"), exc.InvalidInput),
    # malformed IP
    "fixed ip garbage": (port_create(fixed_ips=[{"ip_address": "10.0.0.300"}]),
                         exc.InvalidInput),
    "fixed ip shorthand": (port_create(fixed_ips=[{"ip_address": "10.5"}]), exc.InvalidInput),
    "gateway garbage": (sub_create(cidr="10.1.0.0/24", gateway_ip="10.1.0.x"),
                        exc.InvalidInput),
    "dns garbage": (sub_create(cidr="10.1.0.0/24", dns_nameservers=["dns.example"]),
                    exc.InvalidInput),
    "pool garbage": (sub_create(cidr="10.1.0.0/24",
                                allocation_pools=[{"start": "a", "end": "b"}]),
                     exc.InvalidInput),
    "route nexthop garbage": (sub_update(host_routes=[{"destination": "0.0.0.0/0",
                                                       "nexthop": "gw"}]), exc.InvalidInput),
    # malformed UUID
    "subnet id not a uuid": (port_create(fixed_ips=[{"subnet_id": "sub-1"}]),
                             exc.InvalidInput),
    "subnet network_id not a uuid": (
        lambda w: w.service.create_subnet(w.ctx, network_id="net-1", cidr="10.1.0.0/24"),
        exc.InvalidInput),
    "port network_id not a uuid": (
        lambda w: w.service.create_port(w.ctx, network_id="net-1"), exc.InvalidInput),
    # address outside the subnet, or taken
    "ip outside subnet": (port_create(fixed_ips=[{"subnet_id": "SUB", "ip_address":
                                                   "10.9.0.5"}]), exc.InvalidIpForSubnet),
    "ip on no subnet": (port_create(fixed_ips=[{"ip_address": "192.168.0.5"}]),
                        exc.InvalidInput),
    "ip is broadcast": (port_create(fixed_ips=[{"ip_address": "10.0.0.255"}]),
                        exc.InvalidIpForSubnet),
    "ip is gateway": (port_create(fixed_ips=[{"ip_address": "10.0.0.1"}]),
                      exc.InvalidIpForSubnet),
    "ip taken": (taken_ip, exc.IpAddressInUse),
    "ip taken on update": (lambda w: w.service.update_port(
        w.ctx, w.spare_port.id, fixed_ips=[{"ip_address": w.port.fixed_ips[0].ip_address}]),
        exc.IpAddressInUse),
    "mac taken": (taken_mac, exc.MacAddressInUse),
    # overlapping subnets on one network
    "overlapping subnet": (sub_create(cidr="10.0.0.0/25"), exc.OverlappingSubnet),
    "enclosing subnet": (sub_create(cidr="10.0.0.0/16"), exc.OverlappingSubnet),
    # gateway inside a pool
    "gateway in pool on create": (sub_create(cidr="10.1.0.0/24", gateway_ip="10.1.0.5",
                                             allocation_pools=[{"start": "10.1.0.2",
                                                                "end": "10.1.0.9"}]),
                                  exc.GatewayConflictWithAllocationPools),
    "gateway in pool on update": (gateway_into_pool, exc.GatewayConflictWithAllocationPools),
    "pool outside cidr": (sub_create(cidr="10.1.0.0/24",
                                     allocation_pools=[{"start": "10.1.0.2",
                                                        "end": "10.1.1.9"}]),
                          exc.InvalidAllocationPool),
    "pools overlapping": (sub_create(cidr="10.1.0.0/24", allocation_pools=[
        {"start": "10.1.0.2", "end": "10.1.0.9"}, {"start": "10.1.0.9", "end": "10.1.0.20"}]),
        exc.InvalidAllocationPool),
    # MTU out of range
    "mtu too big": (net_create(mtu=1451), exc.InvalidMtu),
    "mtu too small": (net_create(mtu=67), exc.InvalidMtu),
    "mtu too big on update": (net_update(mtu=9000), exc.InvalidMtu),
    "mtu below ipv6 minimum": (lambda w: w.service.create_subnet(
        w.ctx, network_id=w.small_net.id, cidr="2001:db8::/64"), exc.InvalidMtu),
    # unknown field
    "unknown network field": (net_create(colour="red"), exc.UnknownField),
    "unknown subnet field": (sub_create(cidr="10.1.0.0/24", vlan=5), exc.UnknownField),
    "unknown port field": (port_create(hostname="vm"), exc.UnknownField),
    "unknown update field": (port_update(qos_policy_id="x"), exc.UnknownField),
    "read-only status": (port_update(status="ACTIVE"), exc.RequestedStateInvalid),
    "unknown status": (port_update(status="FLYING"), exc.RequestedStateInvalid),
    "read-only revision": (net_update(revision_number=9), exc.RequestedStateInvalid),
    "driver-chosen vif type": (port_update(binding_vif_type="ovs"), exc.RequestedStateInvalid),
    # wrong type
    "name not a string": (net_create(name=5), exc.InvalidInput),
    "name with a NUL": (port_update(name="eth\x000"), exc.InvalidInput),
    "admin_state_up not a bool": (net_create(admin_state_up="maybe"), exc.InvalidInput),
    "shared not a bool": (net_create(shared="perhaps"), exc.InvalidInput),
    "mtu not an int": (net_create(mtu="big"), exc.InvalidInput),
    "project_id not a string": (net_create(project_id=7), exc.InvalidInput),
    "ip_version not an int": (sub_create(cidr="10.1.0.0/24", ip_version="four"),
                              exc.InvalidInput),
    "enable_dhcp not a bool": (sub_create(cidr="10.1.0.0/24", enable_dhcp="sometimes"),
                               exc.InvalidInput),
    "dns not a list": (sub_create(cidr="10.1.0.0/24", dns_nameservers="8.8.8.8"),
                       exc.InvalidInput),
    "pools not a list": (sub_create(cidr="10.1.0.0/24",
                                    allocation_pools={"start": "10.1.0.2"}), exc.InvalidInput),
    "routes not a list": (sub_create(cidr="10.1.0.0/24", host_routes="default"),
                          exc.InvalidInput),
    "fixed_ips not a list": (port_create(fixed_ips="10.0.0.5"), exc.InvalidInput),
    "fixed_ips entry not a dict": (port_create(fixed_ips=["10.0.0.5"]), exc.InvalidInput),
    "binding_profile not a dict": (lambda w: w.service.create_port(
        w.admin, network_id=w.net.id, binding_profile=["x"]), exc.InvalidInput),
    "device_id not a string": (port_update(device_id=12), exc.InvalidInput),
    "bulk not a list": (lambda w: w.service.create_ports(w.ctx, {"network_id": w.net.id}),
                        exc.InvalidInput),
    "segmentation_id not an int": (lambda w: w.service.create_network(
        w.admin, network_type="vxlan", segmentation_id="ten"), exc.InvalidInput),
    "network_type unknown": (lambda w: w.service.create_network(w.admin, network_type="gre"),
                             exc.InvalidInput),
    "network_id not a string": (lambda w: w.service.create_port(w.ctx, network_id=42),
                                exc.InvalidInput),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_typed_and_changes_nothing(world, case):
    call, error = CASES[case]
    if case == "ip outside subnet":
        def call(w):  # noqa: F811 - needs the real subnet id
            return w.service.create_port(w.ctx, network_id=w.net.id, fixed_ips=[
                {"subnet_id": w.subnet.id, "ip_address": "10.9.0.5"}])
    with unchanged(world.service), pytest.raises(error) as info:
        call(world)
    err = info.value
    assert isinstance(err, exc.NaasError)
    assert err.kind in ("bad_request", "conflict")
    assert err.message and "%(" not in err.message  # the template was filled in


def test_every_error_class_has_a_fillable_template():
    """Raisers pass keyword arguments; a class whose template cannot be filled is a bug."""
    import inspect
    import re

    for name, cls in inspect.getmembers(exc, inspect.isclass):
        if not issubclass(cls, exc.NaasError):
            continue
        keys = set(re.findall(r"%\((\w+)\)s", cls.msg_fmt))
        err = cls(**{k: "v" for k in keys})
        assert "%(" not in err.message, name
        assert err.kind in ("internal", "not_found", "conflict", "bad_request", "forbidden",
                            "unavailable"), name


JUNK = [None, "", "x", 0, -1, 1.5, True, [], {}, ["x"], {"a": 1}, [{"a": 1}], object(),
        b"bytes", 2**70, "a" * 300, [None], [{}], [{"start": None, "end": None}],
        [{"destination": None, "nexthop": None}], [{"ip_address": None}], [{"subnet_id": 5}]]


def test_junk_in_any_field_is_a_typed_error_or_accepted(make_service, admin_ctx):
    """No value of any attribute or list parameter escapes as a raw Python/DB error."""
    from naas_lib.resources import networks, ports, subnets

    svc = make_service(flat_networks=["physnet1"], network_vlan_ranges=["physnet1:1:10"])
    c = admin_ctx
    net = svc.create_network(c)
    sub = svc.create_subnet(c, network_id=net.id, cidr="10.0.0.0/24")
    port = svc.create_port(c, network_id=net.id)
    raw: list[str] = []

    def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except exc.NaasError:
            pass
        except Exception as e:  # noqa: BLE001 - collecting what leaked
            raw.append(f"{fn.__name__}{args}{kwargs}: {type(e).__name__}: {e}"[:200])

    for n, v in enumerate(JUNK):
        for f in networks.CREATE_FIELDS:
            attempt(svc.create_network, c, **{f: v})
        for f in networks.UPDATE_FIELDS:
            attempt(svc.update_network, c, net.id, **{f: v})
        for f in subnets.CREATE_FIELDS:
            attempt(svc.create_subnet, c, **{"network_id": net.id, "cidr": f"10.{n + 1}.0.0/24",
                                             f: v})
        for f in subnets.UPDATE_FIELDS:
            attempt(svc.update_subnet, c, sub.id, **{f: v})
        for f in ports.CREATE_FIELDS:
            attempt(svc.create_port, c, **{"network_id": net.id, f: v})
        for f in ports.UPDATE_FIELDS:
            attempt(svc.update_port, c, port.id, **{f: v})
        attempt(svc.get_network, c, v)
        attempt(svc.get_port, c, port.id, fields=v)
        attempt(svc.attach_port, c, port.id, v)
        attempt(svc.attach_port, c, port.id, f"vif-{n}", host=v)
        attempt(svc.detach_port, c, port.id)
        for param in ("limit", "marker", "sorts", "fields", "name", "mtu"):
            attempt(svc.list_networks, c, **{param: v})
        attempt(svc.list_ports, c, fixed_ips=v)
        attempt(svc.create_ports, c, v)
        attempt(svc.create_ports, c, [v])
        attempt(svc.delete_port, c, "nope", expected_revision=v)
    assert raw == []
