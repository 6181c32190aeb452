"""Run inside the Nova venv (tools/nova-venv.sh): check the library against real Nova 34.

Prints one JSON document of findings; ``tests/nova/test_nova_contract.py``
asserts on it. Nothing here is imported by the main test venv.
"""

from __future__ import annotations

import inspect
import json
import pathlib
import re
import sys
import tempfile
import types
import warnings
import xml.etree.ElementTree as ET

warnings.simplefilter("ignore")

from nova import context as nova_context  # noqa: E402
from nova import objects as nova_objects  # noqa: E402
from nova.network import model as nova_model  # noqa: E402
from nova.network import neutron  # noqa: E402

from naas_lib import NetworkService  # noqa: E402
from naas_lib.virt import libvirt as naas_libvirt  # noqa: E402
from naas_lib.virt import nova_api  # noqa: E402

nova_objects.register_all()
CALL = re.compile(r"\bnetwork_api\.([a-z_][a-z0-9_]*)\(")


def called_by_nova() -> list[str]:
    """Every ``network_api.<method>(`` Nova's own (non-test) code calls."""
    root = pathlib.Path(neutron.__file__).parent.parent
    names: set[str] = set()
    for f in root.rglob("*.py"):
        if "tests" in f.relative_to(root).parts:
            continue
        names.update(CALL.findall(f.read_text(encoding="utf-8", errors="replace")))
    return sorted(n for n in names if hasattr(neutron.API, n))


def _shape(fn) -> list[tuple[str, str, str]]:
    params = inspect.signature(fn).parameters.values()
    return [(p.name, p.kind.name, repr(p.default)) for p in params]


def signatures() -> dict:
    methods = called_by_nova()
    mismatched = {}
    for name in methods:
        ours = getattr(nova_api.API, name, None)
        if ours is None:
            mismatched[name] = "missing"
        elif _shape(ours) != _shape(getattr(neutron.API, name)):
            theirs = inspect.signature(getattr(neutron.API, name))
            mismatched[name] = f"{inspect.signature(ours)} != {theirs}"
    return {"methods": methods, "mismatched": mismatched}


def flows(tmp: str) -> dict:
    """Every flow's network info through NetworkInfo.hydrate, plus the readers of it."""
    url = f"sqlite:///{tmp}/naas.sqlite"
    svc = {h: NetworkService.from_settings(database_url=url, host=h) for h in ("src", "dst")}
    conductor = NetworkService.from_settings(database_url=url)
    api = {h: nova_api.API(s) for h, s in svc.items()}
    api["conductor"] = nova_api.API(conductor)
    ctx = nova_context.RequestContext(user_id="nova", project_id="p1", is_admin=True)
    admin = nova_api.to_context(ctx)
    net = conductor.create_network(admin, network_type="local", project_id="p1", name="n")
    conductor.create_subnet(admin, network_id=net.id, cidr="10.20.0.0/24", enable_dhcp=False)
    inst = types.SimpleNamespace(uuid="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", name="vm",
                                 project_id="p1", host="src")
    reqs = nova_objects.NetworkRequestList(objects=[
        nova_objects.NetworkRequest(network_id=net.id)])
    results: dict[str, object] = {}
    results["boot"] = api["src"].allocate_for_instance(ctx, inst, reqs)
    results["hot_plug"] = api["src"].allocate_for_instance(ctx, inst, reqs)
    results["hot_unplug"] = api["src"].deallocate_port_for_instance(
        ctx, inst, results["hot_plug"][0]["id"])[0]
    live = nova_objects.Migration(migration_type="live-migration", source_compute="src",
                                  dest_compute="dst")
    api["conductor"].bind_ports_to_host(ctx, inst, "dst")
    api["dst"].setup_networks_on_host(ctx, inst, "dst")
    api["src"].migrate_instance_start(ctx, inst, live)
    api["src"].cleanup_instance_network_on_host(ctx, inst, "src")
    inst.host = "dst"
    api["dst"].migrate_instance_finish(ctx, inst, live, None)
    results["live_migration"] = api["dst"].get_instance_nw_info(ctx, inst)
    cold = nova_objects.Migration(migration_type="migration", source_compute="dst",
                                  dest_compute="src")
    api["dst"].migrate_instance_start(ctx, inst, cold)
    api["src"].migrate_instance_finish(ctx, inst, cold, None)
    inst.host = "src"
    results["cold_migration"] = api["src"].get_instance_nw_info(ctx, inst)
    api["dst"].setup_instance_network_on_host(ctx, inst, "dst")
    inst.host = "dst"
    results["evacuation"] = api["dst"].get_instance_nw_info(ctx, inst)
    port_ids = [v["id"] for v in results["evacuation"]]
    api["dst"].unbind_ports(ctx, port_ids, detach=False)
    api["src"].setup_instance_network_on_host(ctx, inst, "src")
    inst.host = "src"
    results["unshelve"] = api["src"].get_instance_nw_info(ctx, inst)
    found: dict[str, object] = {"hydrate": {}, "types": {}}
    for name, nw in results.items():
        try:
            hydrated = nova_model.NetworkInfo.hydrate(nw)
            found["hydrate"][name] = [v["id"] for v in hydrated] == [v["id"] for v in nw] \
                and len(hydrated) > 0
            found["types"][name] = type(nw).__name__
        except Exception as e:  # noqa: BLE001 - reported, asserted by the test
            found["hydrate"][name] = f"{type(e).__name__}: {e}"
    nw = results["unshelve"]
    found["libvirt"] = libvirt_xml(nw)
    found["metadata"] = metadata(nw)
    found["osvif"] = osvif(nw)
    found["devname_lengths"] = sorted({len(v["devname"]) for v in nw})
    for s in (*svc.values(), conductor):
        s.close()
    return found


def _canon(xml: str) -> str:
    def norm(e: ET.Element) -> tuple:
        return (e.tag, tuple(sorted(e.attrib.items())), tuple(sorted(norm(c) for c in e)))
    return repr(norm(ET.fromstring(xml)))


def libvirt_xml(nw) -> dict:
    from nova.virt.libvirt import vif as libvirt_vif
    drv = libvirt_vif.LibvirtGenericVIFDriver()
    flavor = nova_objects.Flavor(name="f", vcpus=1, memory_mb=256, root_gb=1, extra_specs={})
    image_meta = nova_objects.ImageMeta.from_dict({"properties": {}})
    instance = nova_objects.Instance(uuid="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", flavor=flavor,
                                     image_ref="", project_id="p1", system_metadata={})
    out = {}
    for vif in nw:
        try:
            theirs = drv.get_config(instance, vif, image_meta, flavor, "kvm").to_xml()
        except Exception as e:  # noqa: BLE001
            out[vif["id"]] = {"error": f"{type(e).__name__}: {e}"}
            continue
        ours = naas_libvirt.interface_xml(vif)
        out[vif["id"]] = {"equal": _canon(theirs) == _canon(ours), "nova": theirs,
                          "naas": ours}
    return out


def metadata(nw) -> dict:
    from nova.virt import netutils
    meta = netutils.get_network_metadata(nw)
    nets = (meta or {}).get("networks", [])
    fixed = [ip["address"] for v in nw for s in v["network"]["subnets"] for ip in s["ips"]]
    return {"types": [n["type"] for n in nets], "addresses": [n.get("ip_address") for n in nets],
            "fixed": fixed}


def osvif(nw) -> dict:
    from nova.network import os_vif_util
    out = {}
    for vif in nw:
        try:
            converted = os_vif_util.nova_to_osvif_vif(vif)
            out[vif["id"]] = type(converted).__name__
        except Exception as e:  # noqa: BLE001
            out[vif["id"]] = f"error {type(e).__name__}: {e}"
    return out


def hook() -> dict:
    """With the hook installed, Nova's own ``neutron.API()`` is the library's."""
    from naas_lib.virt import nova_hook
    with tempfile.TemporaryDirectory() as tmp:
        svc = NetworkService.from_settings(database_url=f"sqlite:///{tmp}/h.sqlite")
        nova_hook.install(svc)
        try:
            # What each of Nova's modules does: ``neutron.API()`` at run time.
            built = neutron.API()
            return {"class": f"{type(built).__module__}.{type(built).__name__}"}
        finally:
            nova_hook.uninstall()
            svc.close()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = {"signatures": signatures(), "flows": flows(tmp), "hook": hook()}
    json.dump(report, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
