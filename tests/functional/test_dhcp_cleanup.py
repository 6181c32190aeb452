"""DHCP is on by default, and nothing of it outlives a fixture or an instance.

With default settings the Linux bridge driver starts a responder for every
local network with a DHCP subnet. These tests run the fixtures other
functional tests use and check the host afterwards: no responder namespace,
no dnsmasq process and no state file of the fixture is left.
"""

from __future__ import annotations

import uuid

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.functional.netns import (
    dnsmasq_pids,
    lab_for,
    remove_responders,
    responder_namespaces,
    run,
)

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])


def _state_files(path) -> list[str]:
    return [str(p) for p in path.rglob("*")] if path.exists() else []


def test_the_lab_fixture_leaves_no_responder_behind(tmp_path):
    with lab_for(tmp_path) as lab:
        svc, host_ns = lab.host(1)
        assert svc.driver.describe().dhcp  # on without any option
        net = svc.create_network(ADMIN, name="blue", network_type="local")
        svc.create_subnet(ADMIN, network_id=net.id, cidr="10.77.0.0/24")
        guest = lab.netns("g1")
        port = svc.create_port(ADMIN, network_id=net.id, binding_profile={"netns": guest})
        svc.attach_port(ADMIN, port.id, f"vif-{port.id}", host="h1")
        # The lab ends while the port is still attached: only cleanup can stop it.
        assert responder_namespaces([host_ns]) and dnsmasq_pids(lab.dhcp_state)
        state = lab.dhcp_state
    assert responder_namespaces([host_ns]) == []
    assert dnsmasq_pids(state) == []
    assert _state_files(state) == []
    assert host_ns not in run("ip", "netns", "list").stdout


def test_the_last_instance_going_removes_its_responder_without_the_safety_net(tmp_path):
    host = f"fn-dhcp-{uuid.uuid4().hex[:6]}"
    state = tmp_path / "dhcp"
    svc = NetworkService.from_settings(database_url=f"sqlite:///{tmp_path / 'naas.sqlite'}",
                                       driver="linuxbridge", host=host,
                                       tenant_network_types=["local"],
                                       linuxbridge={"dhcp_state_path": str(state)})
    prov = Provisioner(svc)
    inst = {"uuid": str(uuid.uuid4()), "name": "vm", "project_id": "admin"}
    try:
        net = svc.create_network(ADMIN, name="n")
        svc.create_subnet(ADMIN, network_id=net.id, cidr="10.78.0.0/24")
        (vif,) = prov.allocate_for_instance(ADMIN, inst, [NicRequest(network_id=net.id)], host)
        subnet_meta = vif["network"]["subnets"][0]["meta"]
        assert subnet_meta.get("dhcp_server"), subnet_meta  # Nova tells the guest: DHCP
        assert len(responder_namespaces([host])) == 1
        assert len(dnsmasq_pids(state)) == 1
        prov.deallocate_for_instance(ADMIN, inst)
        inst = None
        # The driver's own cleanup, before any safety net.
        assert responder_namespaces([host]) == []
        assert dnsmasq_pids(state) == []
        assert _state_files(state) == []
        svc.delete_network(ADMIN, net.id)
    finally:
        if inst is not None:
            prov.deallocate_for_instance(ADMIN, inst)
        svc.close()
        left = remove_responders(state, [host])
    assert left == []
