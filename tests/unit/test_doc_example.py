"""The worked example of doc/source/higher-layer-services.rst does what the text says."""

from __future__ import annotations

import os
import runpy

import pytest

from naas_lib import exceptions as exc

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "doc", "source", "examples",
                       "edge_firewall.py")


@pytest.fixture
def firewall(service):
    return runpy.run_path(EXAMPLE)["EdgeFirewall"](service)


def test_registers_itself_once(service, admin_ctx, firewall):
    again = type(firewall)(service)
    assert again.record.id == firewall.record.id
    (svc,) = service.list_services(admin_ctx, service_type="firewall")
    assert svc.name == "edge-firewall"


def test_rules_follow_associations_and_veto_network_delete(service, admin_ctx, firewall,
                                                          ctx):
    net = service.create_network(admin_ctx, name="dmz")
    with pytest.raises(exc.NotFound):
        firewall.add_rule(net.id, "allow tcp/443")
    service.associate_service(admin_ctx, firewall.record.id, net.id)
    firewall.add_rule(net.id, "allow tcp/443")
    port = service.create_port(admin_ctx, network_id=net.id)
    assert firewall.ports_seen == [port.id]
    other = service.create_port(ctx, network_id=service.create_network(ctx).id)
    assert other.id not in firewall.ports_seen

    with pytest.raises(exc.Conflict, match="still has 1 rule"):
        service.delete_network(admin_ctx, net.id)
    assert service.get_network(admin_ctx, net.id).name == "dmz"
    with pytest.raises(exc.Conflict):
        service.disassociate_service(admin_ctx, firewall.record.id, net.id)

    firewall.clear_rules(net.id)
    service.delete_network(admin_ctx, net.id)
    assert net.id not in firewall.rules
    assert service.get_service(admin_ctx, firewall.record.id).network_ids == ()
