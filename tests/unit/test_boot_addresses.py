"""The addresses a boot's NICs get, one NIC per network, chosen for all NICs at once.

A boot takes the same addresses as ports created one by one would: the
lowest never handed out, a released one first, an address someone asked
for by hand skipped, each IP version from the first subnet with room.
"""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc
from naas_lib.virt.provisioner import NicRequest, Provisioner


@pytest.fixture
def two_nets(service, ctx):
    nets = [service.create_network(ctx, name=f"n{i}") for i in range(2)]
    for i, net in enumerate(nets):
        service.create_subnet(ctx, network_id=net.id, cidr=f"10.{i}.0.0/24", enable_dhcp=False)
    return nets


def _boot(service, ctx, nets, name):
    info = Provisioner(service).allocate_for_instance(
        ctx.elevated(), {"uuid": name, "project_id": ctx.project_id},
        [NicRequest(network_id=n.id) for n in nets], "h1")
    return [vif["network"]["subnets"][0]["ips"][0]["address"] for vif in info]


def test_boots_take_the_lowest_addresses_and_reuse_a_released_one_first(service, ctx,
                                                                           two_nets):
    assert _boot(service, ctx, two_nets, "vm1") == ["10.0.0.2", "10.1.0.2"]
    assert _boot(service, ctx, two_nets, "vm2") == ["10.0.0.3", "10.1.0.3"]
    Provisioner(service).deallocate_for_instance(ctx.elevated(), {"uuid": "vm1",
                                                                 "project_id": ctx.project_id})
    assert _boot(service, ctx, two_nets, "vm3") == ["10.0.0.2", "10.1.0.2"]
    assert _boot(service, ctx, two_nets, "vm4") == ["10.0.0.4", "10.1.0.4"]


def test_an_address_taken_by_hand_ahead_of_the_boots_is_skipped_not_lost(service, ctx,
                                                                           two_nets):
    service.create_port(ctx, network_id=two_nets[0].id, fixed_ips=[{"ip_address": "10.0.0.2"}])
    assert _boot(service, ctx, two_nets, "vm1") == ["10.0.0.3", "10.1.0.2"]
    assert _boot(service, ctx, two_nets, "vm2") == ["10.0.0.4", "10.1.0.3"]


def test_each_ip_version_from_the_first_subnet_with_room(service, ctx, two_nets):
    full = service.create_network(ctx, name="dual")
    service.create_subnet(ctx, network_id=full.id, cidr="10.9.0.0/30", enable_dhcp=False)
    service.create_subnet(ctx, network_id=full.id, cidr="10.9.1.0/29", enable_dhcp=False)
    service.create_subnet(ctx, network_id=full.id, cidr="fd00:9::/64", ip_version=6,
                          enable_dhcp=False)
    service.create_port(ctx, network_id=full.id)  # the /30's only address, and fd00:9::2
    info = Provisioner(service).allocate_for_instance(
        ctx.elevated(), {"uuid": "vm1", "project_id": ctx.project_id},
        [NicRequest(network_id=full.id), NicRequest(network_id=two_nets[0].id)], "h1")
    addresses = sorted(ip["address"] for s in info[0]["network"]["subnets"]
                       for ip in s["ips"])
    assert addresses == ["10.9.1.2", "fd00:9::3"]
    assert [ip["address"] for s in info[1]["network"]["subnets"] for ip in s["ips"]] == [
        "10.0.0.2"]


def test_a_boot_on_a_used_up_network_keeps_nothing(service, ctx, two_nets):
    small = service.create_network(ctx, name="small")
    service.create_subnet(ctx, network_id=small.id, cidr="10.9.0.0/30", enable_dhcp=False)
    before = service.list_ports(ctx)
    service.create_port(ctx, network_id=small.id)
    with pytest.raises(exc.NicAllocationFailed) as failed:
        _boot(service, ctx, [two_nets[0], small], "vm1")
    assert isinstance(failed.value.__cause__, exc.IpAddressGenerationFailure)
    assert len(service.list_ports(ctx)) == len(before) + 1
    assert _boot(service, ctx, two_nets, "vm2") == ["10.0.0.2", "10.1.0.2"]
