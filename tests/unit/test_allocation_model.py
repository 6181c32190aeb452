"""Allocators against a model: random sequences of takes and releases.

For addresses the model is the set of usable addresses of a small subnet;
for segments the set of VNIs of a small range. The service must hand out
each value at most once, never a reserved one, and report exhaustion
exactly when the model has nothing left.
"""

from __future__ import annotations

import random

import netaddr
import pytest

from naas_lib import exceptions as exc

CIDR = "10.0.0.0/28"  # .1 gateway, .15 broadcast: .2 - .14 usable (13)
POOLS = [{"start": "10.0.0.2", "end": "10.0.0.6"}, {"start": "10.0.0.9", "end": "10.0.0.12"}]


@pytest.mark.parametrize("seed", range(4))
def test_random_operations_match_the_model(service, ctx, net, seed):
    rng = random.Random(seed)
    sub = service.create_subnet(ctx, network_id=net.id, cidr=CIDR, allocation_pools=POOLS,
                                enable_dhcp=False)
    usable = {str(a) for a in netaddr.IPNetwork(CIDR).iter_hosts()} - {"10.0.0.1"}
    in_pools = {str(a) for p in POOLS for a in netaddr.iter_iprange(p["start"], p["end"])}
    held: dict[str, str] = {}  # port id -> address

    def check(port_id: str, addr: str) -> None:
        assert addr in usable
        assert addr not in held.values(), f"{addr} handed out twice"
        held[port_id] = addr

    for _ in range(120):
        op = rng.choice(["auto", "auto", "specific", "delete", "readdress"])
        free_pool = in_pools - set(held.values())
        free_any = usable - set(held.values())
        if op == "auto":
            if free_pool:
                port = service.create_port(ctx, network_id=net.id)
                assert port.fixed_ips[0].ip_address in free_pool
                check(port.id, port.fixed_ips[0].ip_address)
            else:
                with pytest.raises(exc.IpAddressGenerationFailure):
                    service.create_port(ctx, network_id=net.id)
        elif op == "specific":
            addr = rng.choice(sorted(usable))
            req = [{"subnet_id": sub.id, "ip_address": addr}]
            if addr in free_any:
                port = service.create_port(ctx, network_id=net.id, fixed_ips=req)
                check(port.id, addr)
            else:
                with pytest.raises(exc.IpAddressInUse):
                    service.create_port(ctx, network_id=net.id, fixed_ips=req)
        elif op == "delete" and held:
            port_id = rng.choice(sorted(held))
            service.delete_port(ctx, port_id)
            del held[port_id]
        elif op == "readdress" and held:
            port_id = rng.choice(sorted(held))
            if free_pool and rng.random() < 0.5:
                upd = service.update_port(ctx, port_id, fixed_ips=[{"subnet_id": sub.id}])
                new = upd.fixed_ips[0].ip_address
                assert new in free_pool | {held[port_id]}
            elif free_any:
                new = rng.choice(sorted(free_any))
                upd = service.update_port(ctx, port_id, fixed_ips=[{"ip_address": new}])
                assert upd.fixed_ips[0].ip_address == new
            else:
                continue
            del held[port_id]
            check(port_id, new)
    listed = {p.id: p.fixed_ips[0].ip_address for p in service.list_ports(ctx)}
    assert listed == held


@pytest.mark.parametrize("seed", range(3))
def test_random_vni_operations_match_the_model(make_service, ctx, admin_ctx, seed):
    rng = random.Random(seed)
    svc = make_service(vni_ranges=["10:15"], tenant_network_types=["vxlan"])
    vnis = set(range(10, 16))
    held: dict[str, int] = {}
    for _ in range(80):
        op = rng.choice(["auto", "auto", "specific", "delete"])
        free = vnis - set(held.values())
        if op == "auto":
            if free:
                net = svc.create_network(ctx)
                assert net.segmentation_id in free
                held[net.id] = net.segmentation_id
            else:
                with pytest.raises(exc.NoNetworkAvailable):
                    svc.create_network(ctx)
        elif op == "specific":
            vni = rng.choice(sorted(vnis))
            if vni in free:
                net = svc.create_network(admin_ctx, network_type="vxlan", segmentation_id=vni)
                held[net.id] = vni
            else:
                with pytest.raises(exc.SegmentationIdInUse):
                    svc.create_network(admin_ctx, network_type="vxlan", segmentation_id=vni)
        elif op == "delete" and held:
            net_id = rng.choice(sorted(held))
            svc.delete_network(admin_ctx, net_id)
            del held[net_id]
    assert {n.id: n.segmentation_id for n in svc.list_networks(admin_ctx)} == held
