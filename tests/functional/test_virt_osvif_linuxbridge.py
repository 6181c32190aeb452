"""The os-vif plugin wiring a real port with the Linux bridge driver (root).

A process with no host of its own (the API's role) binds a namespace-guest
port to HOST; os-vif, configured as that compute host, plugs it: the guest
end appears in the test namespace with the port's MAC and address, and
unplugging removes it and the host-side device.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import os_vif
import pytest
from os_vif import objects as osv_objects
from oslo_config import cfg

from naas_lib import NetworkService, RequestContext, constants
from tests.functional.netns import remove_responders
from tests.osvif_support import naas_plugin

pytestmark = pytest.mark.functional  # root: required by tests/functional/conftest.py

HOST = "fn-osvif-host"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


@pytest.fixture
def netns():
    name = f"nfo-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", name)
    yield name
    _ip("netns", "delete", name, check=False)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'naas.sqlite'}"


@pytest.fixture
def plugin(url, tmp_path, monkeypatch):
    """The plugin as HOST; its DHCP responders' files in the test's own directory."""
    state = tmp_path / "dhcp"
    conf = tmp_path / "naas.conf"
    conf.write_text(f"[linuxbridge]\ndhcp_state_path = {state}\n")
    with naas_plugin(monkeypatch, str(tmp_path / "ep-cache"), url, HOST,
                     "linuxbridge") as obj:
        cfg.CONF.set_override("config_files", [str(conf)], group="os_vif_naas")
        try:
            yield obj
        finally:
            cfg.CONF.clear_override("config_files", group="os_vif_naas")
    remove_responders(state, [HOST])


@pytest.fixture
def api(url):
    svc = NetworkService.from_settings(database_url=url, driver="linuxbridge",
                                       tenant_network_types=["local"])
    yield svc
    svc.close()


@pytest.mark.parametrize("vif_class", ["VIFGeneric", "VIFBridge"])
def test_os_vif_plugs_the_port_into_the_namespace_and_unplugs_it(plugin, api, netns,
                                                                 vif_class):
    ctx = RequestContext(project_id="fn", user_id="u")
    net = api.create_network(ctx, name="n")
    api.create_subnet(ctx, network_id=net.id, cidr="10.74.0.0/24")
    port = api.create_port(RequestContext(is_admin=True, roles=["admin"]), network_id=net.id,
                           project_id="fn", binding_profile={
                               "netns": netns, "ifname": "eth0", "configure_ip": True})
    api.attach_port(ctx, port.id, port.id, instance_id="vm-1", host=HOST)
    port = api.get_port(ctx, port.id)
    assert port.status == constants.PORT_STATUS_BUILD
    extra = {"bridge_name": "brq" + net.id[:11]} if vif_class == "VIFBridge" else {}
    vif = getattr(osv_objects.vif, vif_class)(
        id=port.id, address=port.mac_address, plugin="naas",
        vif_name=port.binding_vif_details["devname"], **extra)
    instance = osv_objects.instance_info.InstanceInfo(uuid=str(uuid.uuid4()), name="vm1",
                                                      project_id="fn")
    try:
        os_vif.plug(vif, instance)
        os_vif.plug(vif, instance)  # idempotent
        assert api.get_port(ctx, port.id).status == constants.PORT_STATUS_ACTIVE
        (eth0,) = json.loads(_ip("-n", netns, "-j", "addr", "show", "dev", "eth0").stdout)
        assert eth0["address"] == port.mac_address
        assert port.fixed_ips[0].ip_address in {a["local"] for a in eth0["addr_info"]}
        host_dev = port.binding_vif_details["devname"]
        assert _ip("link", "show", host_dev, check=False).returncode == 0

        os_vif.unplug(vif, instance)
        os_vif.unplug(vif, instance)
        assert api.get_port(ctx, port.id).status == constants.PORT_STATUS_DOWN
        assert _ip("link", "show", host_dev, check=False).returncode != 0
        assert _ip("-n", netns, "link", "show", "eth0", check=False).returncode != 0
    finally:
        api.detach_port(ctx, port.id)
        api.delete_port(ctx, port.id)
        plugin.service.driver.unplug(port, net)
        api.delete_network(ctx, net.id)
