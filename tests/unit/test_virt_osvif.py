"""The os-vif plugin through the real os-vif library (noop driver, SQLite file).

A service with no host of its own (the API's role) binds a port to
``compute-1``; os-vif, configured like a Nova compute host, plugs it.
"""

from __future__ import annotations

import uuid

import os_vif
import pytest
from os_vif import exception as osv_exc
from os_vif import objects as osv_objects

from naas_lib import NetworkService, constants
from naas_lib.virt.osvif_plugin import NaasPlugin
from tests.osvif_support import naas_plugin

HOST = "compute-1"


@pytest.fixture
def db_file_url(tmp_path):
    return f"sqlite:///{tmp_path / 'naas.sqlite'}"


@pytest.fixture
def plugin(db_file_url, tmp_path, monkeypatch):
    """os-vif initialized with the naas plugin configured for HOST with the noop driver."""
    with naas_plugin(monkeypatch, str(tmp_path / "ep-cache"), db_file_url, HOST,
                     "noop") as obj:
        yield obj


@pytest.fixture
def api(db_file_url):
    svc = NetworkService.from_settings(database_url=db_file_url)
    yield svc
    svc.close()


@pytest.fixture
def bound_port(api, ctx):
    net = api.create_network(ctx, name="n")
    api.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    port = api.create_port(ctx, network_id=net.id)
    api.attach_port(ctx, port.id, port.id, instance_id="vm-1", host=HOST)
    return api.get_port(ctx, port.id)


def _vif(cls, port, **extra):
    return cls(id=port.id, address=port.mac_address, plugin="naas",
               vif_name=port.binding_vif_details["devname"], **extra)


def _instance():
    return osv_objects.instance_info.InstanceInfo(uuid=str(uuid.uuid4()), name="vm1",
                                                  project_id="project-a")


def test_initialize_loads_the_plugin_and_describe_lists_its_vifs(plugin):
    assert isinstance(plugin, NaasPlugin)
    info = os_vif.host_info()
    naas = info.get_plugin("naas")
    assert {v.vif_object_name for v in naas.vif_info} == {"VIFGeneric", "VIFBridge"}
    assert naas.get_vif("VIFBridge").max_version == "1.0"
    # Filtering by VIF type, as Nova does, keeps the plugin for generic VIFs.
    assert "naas" in [p.plugin_name for p in os_vif.host_info(["VIFGeneric"]).plugin_info]


@pytest.mark.parametrize("vif_class", ["VIFGeneric", "VIFBridge"])
def test_plug_and_unplug_through_os_vif(plugin, api, ctx, bound_port, vif_class):
    cls = getattr(osv_objects.vif, vif_class)
    extra = {"bridge_name": "brq-test"} if vif_class == "VIFBridge" else {}
    vif = _vif(cls, bound_port, **extra)
    assert api.get_port(ctx, bound_port.id).status == constants.PORT_STATUS_BUILD
    os_vif.plug(vif, _instance())
    os_vif.plug(vif, _instance())  # idempotent
    assert api.get_port(ctx, bound_port.id).status == constants.PORT_STATUS_ACTIVE
    assert plugin.service.host == HOST
    assert bound_port.id in plugin.service.driver.plugged
    os_vif.unplug(vif, _instance())
    os_vif.unplug(vif, _instance())
    assert api.get_port(ctx, bound_port.id).status == constants.PORT_STATUS_DOWN
    assert plugin.service.driver.plugged == {}


def test_plug_of_a_port_bound_elsewhere_or_unknown_fails(plugin, api, ctx, bound_port):
    api.detach_port(ctx, bound_port.id)
    api.attach_port(ctx, bound_port.id, bound_port.id, host="compute-2")
    with pytest.raises(osv_exc.PlugException) as e:
        os_vif.plug(_vif(osv_objects.vif.VIFGeneric, bound_port), _instance())
    assert "compute-2" in str(e.value)
    assert plugin.service.driver.plugged == {}
    ghost = bound_port.replace(id=str(uuid.uuid4()))
    with pytest.raises(osv_exc.PlugException, match="could not be found"):
        os_vif.plug(_vif(osv_objects.vif.VIFGeneric, ghost), _instance())


def test_unsupported_vif_object_is_refused(plugin, bound_port):
    vif = osv_objects.vif.VIFOpenVSwitch(id=bound_port.id, address=bound_port.mac_address,
                                         plugin="naas", vif_name="tapx", bridge_name="br")
    with pytest.raises(osv_exc.PlugException, match="does not plug VIFOpenVSwitch"):
        os_vif.plug(vif, _instance())
