"""Results are immutable snapshots, never ORM rows; dictionaries on request."""

from __future__ import annotations

import dataclasses
import json

import pytest

from naas_lib import objects


@pytest.fixture
def port(service, admin_ctx):
    net = service.create_network(admin_ctx)
    service.create_subnet(admin_ctx, network_id=net.id, cidr="10.0.0.0/24",
                          dns_nameservers=["10.0.0.53"])
    return service.create_port(admin_ctx, network_id=net.id,
                               binding_profile={"pci": {"slot": "0000:00:01.0"}, "tags": [1]})


def test_results_are_frozen(service, admin_ctx, port):
    net = service.get_network(admin_ctx, port.network_id)
    sub = service.get_subnet(admin_ctx, port.fixed_ips[0].subnet_id)
    for obj, attr in ((port, "name"), (net, "mtu"), (sub, "cidr"), (port.fixed_ips[0],
                                                                      "ip_address"),
                      (sub.allocation_pools[0], "start")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, attr, "changed")
    assert isinstance(port.fixed_ips, tuple) and isinstance(sub.dns_nameservers, tuple)
    assert isinstance(net, objects.Network) and isinstance(sub, objects.Subnet)


def test_binding_profile_is_read_only(port):
    assert port.binding_profile["pci"]["slot"] == "0000:00:01.0"
    with pytest.raises(TypeError):
        port.binding_profile["pci"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        port.binding_profile["pci"]["slot"] = "x"  # type: ignore[index]
    assert port.binding_profile["tags"] == (1,)
    with pytest.raises(TypeError):
        port.binding_vif_details["x"] = 1  # type: ignore[index]


def test_changing_a_result_does_not_change_the_service(service, admin_ctx, port):
    renamed = port.replace(name="local copy")
    assert renamed.name == "local copy" and port.name == ""
    assert service.get_port(admin_ctx, port.id).name == ""


def test_to_dict_is_plain_and_json_friendly(service, admin_ctx, port):
    d = port.to_dict()
    assert d["binding_profile"] == {"pci": {"slot": "0000:00:01.0"}, "tags": [1]}
    assert d["fixed_ips"][0] == {"subnet_id": port.fixed_ips[0].subnet_id,
                                 "ip_address": port.fixed_ips[0].ip_address}
    assert d["created_at"].endswith("Z")
    json.dumps(d)
    d["name"] = "mutated"
    assert port.name == ""
    assert port.to_dict(["id", "mac_address"]) == {"id": port.id,
                                                   "mac_address": port.mac_address}


def test_mapping_style_access_and_tenant_alias(port):
    assert port["mac_address"] == port.mac_address
    assert port.tenant_id == port.project_id
    with pytest.raises(KeyError):
        port["no_such_attribute"]


def test_neutron_attribute_names(service, admin_ctx, port):
    net = service.get_network(admin_ctx, port.network_id)
    for name in ("network_type", "segmentation_id", "physical_network", "revision_number",
                 "created_at", "updated_at", "shared", "mtu", "status"):
        assert hasattr(net, name)
    for name in ("binding_host_id", "binding_profile", "binding_vif_type",
                 "binding_vif_details", "device_id", "device_owner", "fixed_ips"):
        assert hasattr(port, name)
