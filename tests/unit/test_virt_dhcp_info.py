"""Nova's network info says DHCP only where the port's host answers it.

The subnet's ``meta.dhcp_server`` is what makes Nova's config drive
(``nova.virt.netutils.get_network_metadata``) give a guest ``ipv4_dhcp``
instead of a static address; it is set from the ``dhcp`` capability the
port's host recorded and the subnet's ``enable_dhcp``, never from a process.
"""

from __future__ import annotations

import dataclasses

import pytest

from naas_lib.drivers.noop import NoopDriver
from naas_lib.virt import network_info
from naas_lib.virt.provisioner import NicRequest, Provisioner

HOST = "compute-1"


class DhcpNoopDriver(NoopDriver):
    """The noop driver declaring the ``dhcp`` capability (as linuxbridge with dnsmasq)."""

    name = "dhcpnoop"

    def describe(self):
        return dataclasses.replace(super().describe(), dhcp=True)


def boot(svc, ctx, *subnet_kwargs):
    nets = []
    for i, kwargs in enumerate(subnet_kwargs):
        net = svc.create_network(ctx, name=f"n{i}")
        svc.create_subnet(ctx, network_id=net.id, cidr=f"10.{i}.0.0/24", **kwargs)
        nets.append(net)
    info = Provisioner(svc, poll_interval=0.01).allocate_for_instance(
        ctx, {"uuid": "vm-1", "name": "vm1", "project_id": ctx.project_id},
        [NicRequest(network_id=n.id) for n in nets], HOST)
    return [vif["network"]["subnets"][0]["meta"] for vif in info]


def test_dhcp_host_and_dhcp_subnet_give_the_reserved_server(make_service, ctx):
    svc = make_service(host=HOST, driver_cls=DhcpNoopDriver)
    on, off = boot(svc, ctx, {}, {"enable_dhcp": False})
    assert on == {"dhcp_server": "10.0.0.254", "enable_dhcp": True}
    assert off == {"dhcp_server": None, "enable_dhcp": False}


def test_host_without_dhcp_capability_gives_static_addresses(make_service, ctx):
    svc = make_service(host=HOST)  # noop: no responder on this host
    (meta,) = boot(svc, ctx, {})
    assert meta == {"dhcp_server": None, "enable_dhcp": True}


@pytest.mark.parametrize("caps, expected", [
    ({"dhcp": True}, {"s1": "10.0.0.254"}), ({"dhcp": False}, {}), ({}, {}), (None, {})])
def test_dhcp_servers_follow_the_recorded_capability(caps, expected):
    assert network_info.dhcp_servers(caps, {"s1": "10.0.0.254"}) == expected
