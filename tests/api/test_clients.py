"""Real clients against ``naas-api`` on 127.0.0.1: openstacksdk and the ``openstack`` CLI."""

from __future__ import annotations

import json
import subprocess
import uuid

import openstack
import pytest
from openstack import exceptions as os_exc

from tests.api.conftest import BIN


@pytest.fixture(scope="module")
def conn(api_server):
    c = openstack.connect(auth_type="none", auth={"endpoint": api_server.url},
                          network_endpoint_override=api_server.url)
    yield c
    c.close()


def test_sdk_network_subnet_port_lifecycle(conn):
    tag = uuid.uuid4().hex[:8]
    net = conn.network.create_network(name=f"sdk-{tag}")
    assert net.provider_network_type == "vxlan" and net.mtu == 1450
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.61.0.0/24", ip_version=4,
                                     name=f"sdk-sub-{tag}")
    assert sub.gateway_ip == "10.61.0.1"
    ports = [conn.network.create_port(network_id=net.id, name=f"sdk-p{i}-{tag}")
             for i in range(3)]
    assert {p.fixed_ips[0]["ip_address"] for p in ports} <= {f"10.61.0.{i}"
                                                             for i in range(2, 255)}
    # Filters and server-side paging (the SDK follows ports_links).
    listed = list(conn.network.ports(network_id=net.id, limit=2))
    assert sorted(p.id for p in listed) == sorted(p.id for p in ports)
    found = list(conn.network.ports(name=f"sdk-p1-{tag}"))
    assert [p.id for p in found] == [ports[1].id]
    assert conn.network.find_network(f"sdk-{tag}").id == net.id
    # Update, attach through binding attributes, and refusal to delete while attached.
    updated = conn.network.update_port(ports[0], name="renamed", device_id="vm-sdk",
                                       binding_host_id="compute-sdk")
    assert updated.name == "renamed" and updated.status == "BUILD"
    assert updated.binding_host_id == "compute-sdk"
    with pytest.raises(os_exc.ConflictException) as err:
        conn.network.delete_port(ports[0])
    assert "attached" in str(err.value)
    conn.network.update_port(ports[0], device_id="")
    for p in ports:
        conn.network.delete_port(p)
    assert list(conn.network.ports(network_id=net.id)) == []
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
    with pytest.raises(os_exc.NotFoundException):
        conn.network.get_network(net.id)


def test_sdk_reports_bad_input_as_client_error(conn):
    with pytest.raises(os_exc.BadRequestException) as err:
        conn.network.create_network(name="x", mtu="huge")
    assert "mtu" in str(err.value)


def osc(env, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "openstack"), *args], env=env, capture_output=True,
                          text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def osc_json(env, *args: str):
    return json.loads(osc(env, *args, "-f", "json").stdout)


def test_cli_network_subnet_port_commands(client_env):
    tag = uuid.uuid4().hex[:8]
    net = osc_json(client_env, "network", "create", f"cli-{tag}")
    assert net["name"] == f"cli-{tag}" and net["status"] == "ACTIVE"
    assert net["provider:network_type"] == "vxlan"
    names = [n["Name"] for n in osc_json(client_env, "network", "list")]
    assert f"cli-{tag}" in names
    assert osc_json(client_env, "network", "show", f"cli-{tag}")["id"] == net["id"]

    sub = osc_json(client_env, "subnet", "create", "--network", f"cli-{tag}",
                   "--subnet-range", "10.62.0.0/24", f"cli-sub-{tag}")
    assert sub["cidr"] == "10.62.0.0/24" and sub["gateway_ip"] == "10.62.0.1"
    subs = osc_json(client_env, "subnet", "list", "--network", net["id"])
    assert [s["Subnet"] for s in subs] == ["10.62.0.0/24"]
    bad = osc(client_env, "subnet", "create", "--network", net["id"],
              "--subnet-range", "10.63.0.1/24", "y", check=False)
    assert bad.returncode == 1 and "host bits" in bad.stderr

    port = osc_json(client_env, "port", "create", "--network", f"cli-{tag}",
                    "--fixed-ip", "ip-address=10.62.0.50", f"cli-port-{tag}")
    assert port["fixed_ips"][0]["ip_address"] == "10.62.0.50"
    table = osc(client_env, "port", "list", "--network", net["id"]).stdout
    assert f"cli-port-{tag}" in table and "10.62.0.50" in table
    osc(client_env, "port", "set", "--name", f"cli-port2-{tag}", "--device", "vm-cli",
        "--host", "compute-cli", f"cli-port-{tag}")
    shown = osc_json(client_env, "port", "show", f"cli-port2-{tag}")
    assert (shown["device_id"], shown["binding_host_id"], shown["status"]) == \
        ("vm-cli", "compute-cli", "BUILD")

    refused = osc(client_env, "port", "delete", shown["id"], check=False)
    assert refused.returncode == 1 and "attached" in refused.stderr
    refused = osc(client_env, "network", "delete", net["id"], check=False)
    assert refused.returncode == 1 and "attached ports" in refused.stderr

    osc(client_env, "port", "unset", "--host", shown["id"])
    osc(client_env, "port", "delete", shown["id"])
    osc(client_env, "subnet", "delete", sub["id"])
    osc(client_env, "network", "delete", net["id"])
    missing = osc(client_env, "network", "show", net["id"], check=False)
    assert missing.returncode == 1 and "No Network found" in missing.stderr


def test_cli_security_group_and_port_security_commands(client_env):
    tag = uuid.uuid4().hex[:8]
    group = osc_json(client_env, "security", "group", "create", "--description", "web tier",
                     f"web-{tag}")
    assert group["name"] == f"web-{tag}" and group["description"] == "web tier"
    assert {(r["direction"], r["ethertype"]) for r in group["rules"]} == {
        ("egress", "IPv4"), ("egress", "IPv6")}
    names = [g["Name"] for g in osc_json(client_env, "security", "group", "list")]
    assert f"web-{tag}" in names and "default" in names

    rule = osc_json(client_env, "security", "group", "rule", "create", "--protocol", "tcp",
                    "--dst-port", "8080", "--remote-ip", "192.0.2.0/24", f"web-{tag}")
    assert (rule["direction"], rule["protocol"], rule["port_range_min"],
            rule["port_range_max"], rule["remote_ip_prefix"]) == (
        "ingress", "tcp", 8080, 8080, "192.0.2.0/24")
    again = osc(client_env, "security", "group", "rule", "create", "--protocol", "tcp",
                "--dst-port", "8080", "--remote-ip", "192.0.2.0/24", f"web-{tag}",
                check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = osc(client_env, "security", "group", "rule", "create", "--protocol", "udp",
              "--remote-ip", "10.0.0.1/24", f"web-{tag}", check=False)
    assert bad.returncode == 1 and "host bits" in bad.stderr
    rules = osc_json(client_env, "security", "group", "rule", "list", f"web-{tag}")
    assert rule["id"] in {r["ID"] for r in rules}

    net = osc_json(client_env, "network", "create", f"ps-{tag}")
    assert net["port_security_enabled"] is True
    osc(client_env, "subnet", "create", "--network", net["id"], "--subnet-range",
        "10.64.0.0/24", f"ps-sub-{tag}")
    port = osc_json(client_env, "port", "create", "--network", net["id"],
                    "--security-group", f"web-{tag}", f"ps-port-{tag}")
    assert port["security_group_ids"] == [group["id"]]
    assert port["port_security_enabled"] is True
    osc(client_env, "port", "set", "--allowed-address", "ip-address=10.64.0.200",
        f"ps-port-{tag}")
    shown = osc_json(client_env, "port", "show", f"ps-port-{tag}")
    assert shown["allowed_address_pairs"] == [
        {"ip_address": "10.64.0.200", "mac_address": port["mac_address"]}]
    in_use = osc(client_env, "security", "group", "delete", f"web-{tag}", check=False)
    assert in_use.returncode == 1 and "in use" in in_use.stderr
    off = osc(client_env, "port", "set", "--disable-port-security", f"ps-port-{tag}",
              check=False)
    assert off.returncode == 1 and "port_security_enabled" in off.stderr

    osc(client_env, "port", "delete", port["id"])
    osc(client_env, "security", "group", "rule", "delete", rule["id"])
    osc(client_env, "security", "group", "delete", f"web-{tag}")
    osc(client_env, "network", "delete", net["id"])
    gone = osc(client_env, "security", "group", "show", group["id"], check=False)
    assert gone.returncode == 1


def test_cli_reports_unknown_network_with_nonzero_exit(client_env):
    bad = osc(client_env, "subnet", "create", "--network", "no-such-net",
              "--subnet-range", "10.0.0.0/24", "x", check=False)
    assert bad.returncode == 1 and "no-such-net" in bad.stderr


def test_server_stops_cleanly_on_sigterm(tmp_path):
    from tests.api.conftest import ApiServer

    server = ApiServer(tmp_path)
    server.start()
    assert server.db.exists()  # the embedded schema was created on first use
    assert server.stop() == 0
