"""libvirt interface XML from real network info, validated against libvirt's own schema.

The schema is Debian's ``libvirt0`` (``/usr/share/libvirt/schemas/domain.rng``),
installed by ``tools/install-system-packages.sh``; it is never copied here.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from naas_lib.virt import libvirt
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.support.ci import unavailable


def _find_domain_rng() -> str | None:
    try:
        out = subprocess.run(["dpkg", "-L", "libvirt0"], capture_output=True, text=True,
                             check=False).stdout
    except FileNotFoundError:
        return None
    for line in out.splitlines():
        if line.endswith("/domain.rng"):
            return line
    return None


@pytest.fixture(scope="module")
def domain_rng():
    path = _find_domain_rng()
    if path is None or shutil.which("xmllint") is None:
        unavailable("libvirt0's domain.rng and xmllint (libxml2-utils)")
    return path


@pytest.fixture
def network_info(make_service, ctx):
    svc = make_service(host="compute-1", global_physnet_mtu=9000)
    a = svc.create_network(ctx, name="a")
    svc.create_subnet(ctx, network_id=a.id, cidr="10.0.0.0/24")
    b = svc.create_network(ctx, name="b", mtu=1400)
    svc.create_subnet(ctx, network_id=b.id, cidr="10.1.0.0/24")
    return Provisioner(svc).allocate_for_instance(
        ctx, {"uuid": "vm-1", "name": "vm1", "project_id": ctx.project_id},
        [NicRequest(network_id=a.id), NicRequest(network_id=b.id)], "compute-1")


def _domain(interfaces: str) -> str:
    return (
        "<domain type='kvm'><name>vm1</name><memory>131072</memory>"
        "<os><type arch='x86_64'>hvm</type></os>"
        f"<devices>{interfaces}</devices></domain>"
    )


def test_interfaces_carry_mac_tap_virtio_and_mtu_in_nic_order(network_info):
    root = ET.fromstring(_domain(libvirt.interfaces_xml(network_info)))
    ifaces = root.findall("./devices/interface")
    assert len(ifaces) == 2
    for iface, vif in zip(ifaces, network_info, strict=True):
        assert iface.get("type") == "ethernet"
        assert iface.find("mac").get("address") == vif["address"]
        target = iface.find("target")
        assert target.get("dev") == vif["devname"] and target.get("managed") == "no"
        assert target.get("dev").startswith("tap") and len(target.get("dev")) <= 15
        assert iface.find("model").get("type") == "virtio"
    assert [i.find("mtu").get("size") for i in ifaces] == ["8950", "1400"]


def test_domain_with_the_interfaces_is_valid_libvirt_xml(network_info, domain_rng, tmp_path):
    path = tmp_path / "domain.xml"
    path.write_text(_domain(libvirt.interfaces_xml(network_info)))
    run = subprocess.run(["xmllint", "--noout", "--relaxng", domain_rng, str(path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "validates" in run.stderr


def test_schema_check_catches_a_broken_interface(network_info, domain_rng, tmp_path):
    """The validation above can fail: a managed value libvirt does not know is refused."""
    bad = libvirt.interfaces_xml(network_info).replace("managed=\"no\"", "managed=\"maybe\"")
    path = tmp_path / "domain.xml"
    path.write_text(_domain(bad))
    run = subprocess.run(["xmllint", "--noout", "--relaxng", domain_rng, str(path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode != 0
