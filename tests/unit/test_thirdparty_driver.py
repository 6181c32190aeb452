"""An out-of-tree driver package found through its entry point, without pip.

The fixture package in ``tests/fixtures/naas_thirdparty`` declares two
entry points in ``naas_lib.drivers``. The test "installs" it the way pip
would make it visible: a ``*.dist-info`` with its ``entry_points.txt`` on a
sys.path directory, next to the package itself.
"""

from __future__ import annotations

import configparser
import pathlib
import sys

import pytest
from stevedore.extension import ExtensionManager

from naas_lib import NetworkService
from naas_lib import exceptions as exc

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "naas_thirdparty"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Make the fixture package and its entry points importable for this test only."""
    cfg = configparser.ConfigParser()
    cfg.read(FIXTURE / "setup.cfg")
    name, version = cfg["metadata"]["name"], cfg["metadata"]["version"]
    info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    points = cfg["options.entry_points"]["naas_lib.drivers"].strip().splitlines()
    (info / "entry_points.txt").write_text("[naas_lib.drivers]\n" + "\n".join(
        p.strip() for p in points) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(FIXTURE))
    # stevedore caches a namespace's entry points per process: an earlier test
    # that loaded "noop" would hide this distribution's driver.
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    yield
    for mod in [m for m in sys.modules if m.startswith("naas_thirdparty")]:
        del sys.modules[mod]


def test_the_service_loads_and_uses_an_out_of_tree_driver(installed, admin_ctx):
    with NetworkService.from_settings(database_url="sqlite://", driver="thirdparty",
                                      host="h1") as svc:
        assert type(svc.driver).__module__ == "naas_thirdparty.driver"
        net = svc.create_network(admin_ctx, name="n", network_type="local",
                                 port_security_enabled=False)
        port = svc.create_port(admin_ctx, network_id=net.id)
        svc.attach_port(admin_ctx, port.id, "vif-1")
        port = svc.get_port(admin_ctx, port.id)
        assert port.status == "ACTIVE"
        assert port.binding_vif_details["devname"] == "tp" + port.id[:11]
        assert svc.driver.is_plugged(port, net)
        # Its capabilities are negotiated: a vxlan network is refused at binding.
        vx = svc.create_network(admin_ctx, name="v", network_type="vxlan",
                                port_security_enabled=False)
        other = svc.create_port(admin_ctx, network_id=vx.id)
        with pytest.raises(exc.BindingFailed, match="vxlan"):
            svc.attach_port(admin_ctx, other.id, "vif-2")
        assert svc.get_port(admin_ctx, other.id).status == "ERROR"


def test_a_driver_failing_on_import_is_named_with_the_installed_ones(installed):
    with pytest.raises(exc.DriverNotFound) as caught:
        NetworkService.from_settings(database_url="sqlite://", driver="thirdparty_broken")
    message = caught.value.message
    assert "thirdparty_broken" in message and "naas_thirdparty_missing_dependency" in message
    for name in ("linuxbridge", "noop", "thirdparty"):
        assert name in message.split("Installed drivers:")[1]


def test_an_unknown_driver_is_named_with_the_installed_ones(installed):
    with pytest.raises(exc.DriverNotFound) as caught:
        NetworkService.from_settings(database_url="sqlite://", driver="nosuch")
    assert "nosuch" in caught.value.message and "thirdparty" in caught.value.message


def test_a_driver_without_port_security_refuses_a_port_that_needs_it(installed, admin_ctx):
    with NetworkService.from_settings(database_url="sqlite://", driver="thirdparty",
                                      host="h1") as svc:
        net = svc.create_network(admin_ctx, name="n", network_type="local")
        port = svc.create_port(admin_ctx, network_id=net.id)
        assert port.port_security_enabled and port.security_groups
        with pytest.raises(exc.BindingFailed, match="port security"):
            svc.attach_port(admin_ctx, port.id, "vif-1")
        assert svc.driver.devices == {}
        # Without port security (and so without groups) the same driver binds it.
        port = svc.update_port(admin_ctx, port.id, port_security_enabled=False,
                               security_groups=[])
        svc.attach_port(admin_ctx, port.id, "vif-1")
        assert svc.get_port(admin_ctx, port.id).status == "ACTIVE"


def test_a_driver_failing_in_plug_gives_a_typed_error_and_no_partial_state(
        installed, admin_ctx):
    with NetworkService.from_settings(database_url="sqlite://", driver="thirdparty",
                                      host="h1", thirdparty={"fail_plug": True}) as svc:
        net = svc.create_network(admin_ctx, name="n", network_type="local",
                                 port_security_enabled=False)
        port = svc.create_port(admin_ctx, network_id=net.id)
        with pytest.raises(exc.DriverError, match="the fabric refused the port"):
            svc.attach_port(admin_ctx, port.id, "vif-1")
        port = svc.get_port(admin_ctx, port.id)
        assert port.status == "ERROR"
        assert "the fabric refused the port" in port.status_reason
        assert svc.driver.devices == {}  # the bridge it made first was undone
