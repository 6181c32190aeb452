"""One driver contract: plug always gets subnets, bind_port is a pure classmethod.

Drivers written to the older shapes (two-argument ``plug``, instance-method
``bind_port``) keep working, with a DeprecationWarning.
"""

from __future__ import annotations

import warnings

import pytest

from naas_lib import constants
from naas_lib.drivers import base
from naas_lib.drivers import manager as driver_manager
from naas_lib.drivers.noop import NoopDriver


class LegacyDriver(NoopDriver):
    """A third-party driver of the previous contract."""

    name = "legacy"

    def __init__(self, conf, host):
        super().__init__(conf, host)
        self.calls: list[tuple[str, str]] = []

    def bind_port(self, port, network):  # instance method, reads self.host
        return base.Binding(vif_type=constants.VIF_TYPE_TAP,
                            vif_details={"devname": "tap" + port.id[:11], "host": self.host})

    def plug(self, port, network):  # no subnets
        self.calls.append((port.id, network.id))


class SubnetsDriver(NoopDriver):
    name = "withsubnets"

    def __init__(self, conf, host):
        super().__init__(conf, host)
        self.subnets_seen: list[list[str]] = []

    def plug(self, port, network, subnets):
        self.subnets_seen.append(sorted(s.cidr for s in subnets))
        super().plug(port, network, subnets)


def test_a_two_argument_plug_still_plugs_with_a_deprecation_warning(make_service, admin_ctx):
    with pytest.warns(DeprecationWarning, match="plug\\(port, network\\) is deprecated"):
        svc = make_service(host="h1", driver="legacy", driver_cls=LegacyDriver)
    net = svc.create_network(admin_ctx)
    svc.create_subnet(admin_ctx, network_id=net.id, cidr="10.0.0.0/24")
    port = svc.create_port(admin_ctx, network_id=net.id)
    svc.attach_port(admin_ctx, port.id, "vif-1", host="h1")
    assert svc.driver.calls == [(port.id, net.id)]
    assert svc.get_port(admin_ctx, port.id).status == constants.PORT_STATUS_ACTIVE


def test_plug_receives_the_complete_subnets_of_the_port(make_service, admin_ctx):
    svc = make_service(host="h1", driver="withsubnets", driver_cls=SubnetsDriver)
    net = svc.create_network(admin_ctx)
    svc.create_subnet(admin_ctx, network_id=net.id, cidr="10.0.0.0/24")
    svc.create_subnet(admin_ctx, network_id=net.id, cidr="fd00::/64")
    port = svc.create_port(admin_ctx, network_id=net.id)
    svc.attach_port(admin_ctx, port.id, "vif-1", host="h1")
    assert svc.driver.subnets_seen == [["10.0.0.0/24", "fd00::/64"]]


def test_in_tree_drivers_bind_as_classmethods_without_an_instance(make_service, admin_ctx):
    svc = make_service()
    net = svc.create_network(admin_ctx)
    port = svc.create_port(admin_ctx, network_id=net.id)
    assert driver_manager.has_pure_binding(NoopDriver)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        binding = driver_manager.bind_for_host(NoopDriver, port, net, "elsewhere")
    assert binding.vif_type == constants.VIF_TYPE_TAP


def test_an_instance_method_bind_port_binds_for_another_host_deprecated(make_service,
                                                                        admin_ctx):
    svc = make_service()
    net = svc.create_network(admin_ctx)
    port = svc.create_port(admin_ctx, network_id=net.id)
    with pytest.warns(DeprecationWarning, match="bind_port should be a classmethod"):
        binding = driver_manager.bind_for_host(LegacyDriver, port, net, "compute-9")
    assert binding.vif_details["host"] == "compute-9"
