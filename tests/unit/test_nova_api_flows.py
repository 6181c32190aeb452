"""The drop-in network API through Nova's flows, without Nova (objects duck-typed).

Hosts ``src`` and ``dst`` and a conductor (no host) share one SQLite file;
each Nova service calls ``API`` on its own NetworkService, as it would
in-process. After each flow: where the ports are bound, what each host's
reconciliation would serve, and what each host's driver has plugged.
"""

from __future__ import annotations

import types

import pytest

from naas_lib import exceptions as exc
from naas_lib.drivers.noop import NoopDriver
from naas_lib.resources import binding as binding_mod
from naas_lib.virt import nova_api, nova_hook
from tests.support.cost import count_cost
from tests.support.fake_driver import FakeDriver
from tests.unit.test_hosts_sync import REAL_LOAD

NOVA_ADMIN = types.SimpleNamespace(project_id="p1", user_id="nova", roles=["admin"],
                                   is_admin=True)


@pytest.fixture(autouse=True)
def fake_entry_point(monkeypatch):
    monkeypatch.setattr(binding_mod.driver_manager, "load_driver_class",
                        lambda name: FakeDriver if name == FakeDriver.name else REAL_LOAD(name))


@pytest.fixture
def cloud(make_service, tmp_path):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    svc = {h: make_service(database_url=url, host=h, driver="fake", driver_cls=FakeDriver,
                           fake={"endpoint": ep})
           for h, ep in (("src", "192.0.2.1"), ("dst", "192.0.2.2"))}
    svc["conductor"] = make_service(database_url=url, driver="noop", driver_cls=NoopDriver)
    apis = {h: nova_api.API(s) for h, s in svc.items()}
    admin = nova_api.to_context(NOVA_ADMIN)
    net = svc["conductor"].create_network(admin, network_type="vxlan", project_id="p1")
    svc["conductor"].create_subnet(admin, network_id=net.id, cidr="10.9.0.0/24")
    return types.SimpleNamespace(svc=svc, api=apis, net=net, admin=admin)


def _instance(host="src"):
    return types.SimpleNamespace(uuid="11111111-2222-3333-4444-555555555555", name="vm",
                                 project_id="p1", host=host)


def _req(**kw):
    return types.SimpleNamespace(objects=[types.SimpleNamespace(
        network_id=kw.get("network_id"), port_id=kw.get("port_id"), address=None,
        binding_profile=None)])


def _boot(cloud, inst):
    return cloud.api["src"].allocate_for_instance(NOVA_ADMIN, inst,
                                                  _req(network_id=cloud.net.id))


def _where(cloud, port_id):
    bindings = cloud.svc["conductor"].list_port_bindings(cloud.admin, port_id)
    return sorted((b.host, b.status) for b in bindings)


def _served(cloud, host):
    return [p.id for p, _ in cloud.svc[host].desired_state().ports]


def test_boot_hot_plug_and_hot_unplug(cloud):
    inst = _instance()
    vifs = _boot(cloud, inst)
    assert len(vifs) == 1 and vifs[0]["active"] and vifs[0]["type"] == "tap"
    first = vifs[0]["id"]
    added = cloud.api["src"].allocate_for_instance(NOVA_ADMIN, inst,
                                                   _req(network_id=cloud.net.id))
    assert len(added) == 1 and added[0]["id"] != first and added[0]["active"]
    info = cloud.api["src"].get_instance_nw_info(NOVA_ADMIN, inst)
    assert [v["id"] for v in info] == [first, added[0]["id"]]
    nw, allocation = cloud.api["src"].deallocate_port_for_instance(NOVA_ADMIN, inst,
                                                                   added[0]["id"])
    assert [v["id"] for v in nw] == [first] and allocation == []
    with pytest.raises(exc.PortNotFound):
        cloud.svc["conductor"].get_port(cloud.admin, added[0]["id"])
    # repeats are no-ops
    cloud.api["src"].deallocate_port_for_instance(NOVA_ADMIN, inst, added[0]["id"])
    assert [v["id"] for v in cloud.api["src"].get_instance_nw_info(NOVA_ADMIN, inst)] == [
        first]


def test_existing_port_hot_plug_is_idempotent_and_kept_on_unplug(cloud):
    inst = _instance()
    _boot(cloud, inst)
    port = cloud.svc["conductor"].create_port(cloud.admin, network_id=cloud.net.id,
                                              project_id="p1")
    for _ in range(2):
        vifs = cloud.api["src"].allocate_for_instance(NOVA_ADMIN, inst, _req(port_id=port.id))
        assert [v["id"] for v in vifs] == [port.id]
        assert vifs[0]["preserve_on_delete"] is True
    cloud.api["src"].deallocate_port_for_instance(NOVA_ADMIN, inst, port.id)
    kept = cloud.svc["conductor"].get_port(cloud.admin, port.id)
    assert (kept.device_id, kept.binding_host_id) == ("", None)
    assert kept.fixed_ips


def test_live_migration(cloud):
    inst = _instance()
    pid = _boot(cloud, inst)[0]["id"]
    conductor, src, dst = cloud.api["conductor"], cloud.api["src"], cloud.api["dst"]
    migration = {"migration_type": "live-migration", "source_compute": "src",
                 "dest_compute": "dst"}
    bindings = conductor.bind_ports_to_host(NOVA_ADMIN, inst, "dst")
    assert bindings[pid]["status"] == "INACTIVE"
    assert conductor.bind_ports_to_host(NOVA_ADMIN, inst, "dst") == bindings  # repeat
    dst.setup_networks_on_host(NOVA_ADMIN, inst, "dst")  # pre_live_migration
    dst.setup_networks_on_host(NOVA_ADMIN, inst, "dst")
    port = cloud.svc["dst"].get_port(cloud.admin, pid)
    assert cloud.svc["dst"].driver.is_plugged(port.replace(binding_host_id="dst"), cloud.net)
    assert port.binding_host_id == "src"  # not yet moved
    src.migrate_instance_start(NOVA_ADMIN, inst, migration)
    src.migrate_instance_start(NOVA_ADMIN, inst, migration)
    assert _where(cloud, pid) == [("dst", "ACTIVE"), ("src", "INACTIVE")]
    src.cleanup_instance_network_on_host(NOVA_ADMIN, inst, "src")
    src.setup_networks_on_host(NOVA_ADMIN, inst, "src", teardown=True)
    assert _where(cloud, pid) == [("dst", "ACTIVE")]
    assert not cloud.svc["src"].driver.is_plugged(port, cloud.net) and _served(cloud, "src") == []
    inst.host = "dst"
    dst.migrate_instance_finish(NOVA_ADMIN, inst, migration, None)
    cloud.svc["dst"].sync()
    info = dst.get_instance_nw_info(NOVA_ADMIN, inst)
    assert info[0]["details"]["host"] == "dst" and info[0]["active"]


def test_aborted_live_migration_leaves_source_and_cleans_destination(cloud):
    inst = _instance()
    pid = _boot(cloud, inst)[0]["id"]
    cloud.api["conductor"].bind_ports_to_host(NOVA_ADMIN, inst, "dst")
    cloud.api["dst"].setup_networks_on_host(NOVA_ADMIN, inst, "dst")
    # rollback_live_migration_at_destination, then the conductor's cleanup
    cloud.api["dst"].setup_networks_on_host(NOVA_ADMIN, inst, "dst", teardown=True)
    cloud.api["conductor"].delete_port_binding(NOVA_ADMIN, pid, "dst")
    assert _where(cloud, pid) == [("src", "ACTIVE")]
    assert _served(cloud, "dst") == []
    port = cloud.svc["src"].get_port(cloud.admin, pid)
    assert port.status == "ACTIVE" and cloud.svc["src"].driver.is_plugged(port, cloud.net)


def test_cold_migration_and_revert(cloud):
    inst = _instance()
    pid = _boot(cloud, inst)[0]["id"]
    mig = {"migration_type": "migration", "source_compute": "src", "dest_compute": "dst"}
    cloud.api["src"].migrate_instance_start(NOVA_ADMIN, inst, mig)
    assert _where(cloud, pid) == [("src", "ACTIVE")]  # cold: nothing moves at start
    cloud.api["dst"].setup_networks_on_host(NOVA_ADMIN, inst, "dst")
    cloud.api["dst"].migrate_instance_finish(NOVA_ADMIN, inst, mig, None)
    cloud.api["dst"].migrate_instance_finish(NOVA_ADMIN, inst, mig, None)
    assert _where(cloud, pid) == [("dst", "ACTIVE")]
    assert _served(cloud, "src") == [] and _served(cloud, "dst") == [pid]
    # revert: Nova's finish_revert_resize passes the source as dest_compute
    inst.host = "dst"
    cloud.api["dst"].setup_networks_on_host(NOVA_ADMIN, inst, teardown=True)  # active: kept
    back = dict(mig, dest_compute="src")
    cloud.api["src"].migrate_instance_finish(NOVA_ADMIN, inst, back, None)
    assert _where(cloud, pid) == [("src", "ACTIVE")]
    assert _served(cloud, "dst") == [] and _served(cloud, "src") == [pid]
    cloud.svc["src"].sync()
    assert cloud.svc["src"].get_port(cloud.admin, pid).status == "ACTIVE"


def test_evacuation_does_not_touch_the_dead_source_and_its_sync_cleans_up(cloud):
    inst = _instance()
    pid = _boot(cloud, inst)[0]["id"]
    port = cloud.svc["src"].get_port(cloud.admin, pid)
    cloud.api["dst"].setup_networks_on_host(NOVA_ADMIN, inst, "dst")
    cloud.api["dst"].setup_instance_network_on_host(NOVA_ADMIN, inst, "dst")
    assert _where(cloud, pid) == [("dst", "ACTIVE")]
    assert cloud.svc["src"].driver.is_plugged(port, cloud.net)  # the dead host untouched
    report = cloud.svc["src"].sync()  # it comes back
    assert not cloud.svc["src"].driver.is_plugged(port, cloud.net)
    assert report.removed
    cloud.svc["dst"].sync()
    assert cloud.svc["dst"].get_port(cloud.admin, pid).status == "ACTIVE"


def test_shelve_offload_and_unshelve_keep_ports_and_addresses(cloud):
    inst = _instance()
    vif = _boot(cloud, inst)[0]
    before = cloud.svc["conductor"].get_port(cloud.admin, vif["id"])
    cloud.api["src"].unbind_ports(NOVA_ADMIN, [vif["id"]], detach=False)
    shelved = cloud.svc["conductor"].get_port(cloud.admin, vif["id"])
    assert shelved.binding_host_id is None and shelved.fixed_ips == before.fixed_ips
    assert _served(cloud, "src") == []
    inst.host = "dst"
    cloud.api["dst"].setup_instance_network_on_host(NOVA_ADMIN, inst, "dst")
    cloud.api["dst"].setup_instance_network_on_host(NOVA_ADMIN, inst, "dst")
    info = cloud.api["dst"].get_instance_nw_info(NOVA_ADMIN, inst)
    assert [v["id"] for v in info] == [vif["id"]]
    assert info[0]["network"]["subnets"][0]["ips"] == vif["network"]["subnets"][0]["ips"]
    assert _where(cloud, vif["id"]) == [("dst", "ACTIVE")]


def test_deallocate_for_instance_is_idempotent(cloud):
    inst = _instance()
    pid = _boot(cloud, inst)[0]["id"]
    cloud.api["src"].deallocate_for_instance(NOVA_ADMIN, inst)
    cloud.api["src"].deallocate_for_instance(NOVA_ADMIN, inst)
    with pytest.raises(exc.PortNotFound):
        cloud.svc["conductor"].get_port(cloud.admin, pid)
    assert cloud.api["src"].get_instance_nw_info(NOVA_ADMIN, inst) == []


def test_bind_ports_to_host_is_all_or_nothing(cloud, monkeypatch):
    inst = _instance()
    _boot(cloud, inst)
    cloud.api["src"].allocate_for_instance(NOVA_ADMIN, inst, _req(network_id=cloud.net.id))
    binder = cloud.svc["conductor"].parts.port_bindings.binder
    real = binder.choose
    calls = []

    def second_fails(*a, **kw):  # the destination's driver refuses the second NIC
        calls.append(a)
        if len(calls) == 2:
            raise exc.BindingFailed(port_id="x", host="dst", reason="injected")
        return real(*a, **kw)

    monkeypatch.setattr(binder, "choose", second_fails)
    with pytest.raises(exc.BindingFailed):
        cloud.api["conductor"].bind_ports_to_host(NOVA_ADMIN, inst, "dst")
    assert len(calls) == 2
    assert _served(cloud, "dst") == []
    ports = cloud.api["conductor"].get_instance_nw_info(NOVA_ADMIN, inst)
    assert all(_where(cloud, v["id"]) == [("src", "ACTIVE")] for v in ports)


def test_missing_features_answer_as_neutron_without_the_extension(cloud):
    api = cloud.api["conductor"]
    assert api.has_port_binding_extension() is True
    assert api.has_extended_resource_request_extension() is False
    assert api.get_floating_ips_by_project(NOVA_ADMIN) == []
    assert api.get_binding_profile_allocation(NOVA_ADMIN, "p", {}) is None
    assert api.create_resource_requests(NOVA_ADMIN, None) == (None, [], None)
    assert api.get_segment_ids_for_network(NOVA_ADMIN, cloud.net.id) == []
    with pytest.raises(Exception):  # noqa: B017 - Nova's FloatingIpNotFound when importable
        api.get_floating_ip(NOVA_ADMIN, "x")


def test_hook_makes_nova_module_build_this_api(cloud):
    fake = types.ModuleType(nova_hook.NEUTRON_MODULE)
    fake.API = object
    import sys
    sys.modules[nova_hook.NEUTRON_MODULE] = fake
    try:
        nova_hook.install(cloud.svc["conductor"])
        built = fake.API()
        assert isinstance(built, nova_api.API) and built.service is cloud.svc["conductor"]
        nova_hook.uninstall()
        assert fake.API is object
    finally:
        del sys.modules[nova_hook.NEUTRON_MODULE]
        nova_hook.uninstall()


def _three_nics(cloud, inst):
    _boot(cloud, inst)
    for _ in range(2):
        cloud.api["src"].allocate_for_instance(NOVA_ADMIN, inst, _req(network_id=cloud.net.id))
    return [v["id"] for v in cloud.api["src"].get_instance_nw_info(NOVA_ADMIN, inst)]


def test_evacuation_moves_every_nic_in_one_write_transaction(cloud):
    inst = _instance()
    pids = _three_nics(cloud, inst)
    dst = cloud.svc["dst"]
    with count_cost(dst.db.engine) as cost:
        cloud.api["dst"].setup_instance_network_on_host(NOVA_ADMIN, inst, "dst")
    writes = [s for s in cost.statements if s.startswith("BEGIN IMMEDIATE")]
    # one for the three bindings, then one status write per port plugged here
    assert len(writes) == 1 + len(pids), cost.statements
    assert all(_where(cloud, p) == [("dst", "ACTIVE")] for p in pids)
    assert sorted(_served(cloud, "dst")) == sorted(pids) and _served(cloud, "src") == []
    assert {dst.get_port(cloud.admin, p).status for p in pids} == {"ACTIVE"}
    with count_cost(dst.db.engine) as again:  # a repeat reads and writes nothing
        cloud.api["dst"].setup_instance_network_on_host(NOVA_ADMIN, inst, "dst")
    assert not [s for s in again.statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]


def test_a_move_that_cannot_bind_one_nic_moves_none(cloud, monkeypatch):
    inst = _instance()
    pids = _three_nics(cloud, inst)
    binder = cloud.svc["dst"].parts.port_bindings.binder
    real, seen = binder.choose, []

    def third_fails(session, port, network, host):
        seen.append(port.id)
        if len(seen) == 3:
            raise exc.BindingFailed(port_id=port.id, host=host, reason="injected")
        return real(session, port, network, host)

    monkeypatch.setattr(binder, "choose", third_fails)
    with pytest.raises(exc.BindingFailed):
        cloud.api["dst"].setup_instance_network_on_host(NOVA_ADMIN, inst, "dst")
    assert all(_where(cloud, p) == [("src", "ACTIVE")] for p in pids)
    assert _served(cloud, "dst") == []


def test_bindings_of_many_ports_are_read_at_once_and_only_where_visible(cloud, ctx):
    inst = _instance()
    pids = _three_nics(cloud, inst)
    cloud.api["conductor"].bind_ports_to_host(NOVA_ADMIN, inst, "dst")
    svc = cloud.svc["conductor"]
    with count_cost(svc.db.engine) as cost:
        found = svc.list_bindings_of_ports(cloud.admin, [*pids, "no-such-port"])
    assert {p: [(b.host, b.status) for b in bs] for p, bs in found.items()} == {
        p: [("src", "ACTIVE"), ("dst", "INACTIVE")] for p in pids}
    assert len([s for s in cost.statements if s.startswith("SELECT")]) == 2
    assert svc.list_bindings_of_ports(ctx, pids) == {}  # another project's ports


def test_live_migration_binds_every_nic_on_the_destination_in_one_transaction(cloud):
    inst = _instance()
    pids = _three_nics(cloud, inst)
    conductor = cloud.svc["conductor"]
    with count_cost(conductor.db.engine) as cost:
        docs = cloud.api["conductor"].bind_ports_to_host(NOVA_ADMIN, inst, "dst")
    assert len([s for s in cost.statements if s.startswith("BEGIN IMMEDIATE")]) == 1
    assert sorted(docs) == sorted(pids)
    assert {d["status"] for d in docs.values()} == {"INACTIVE"}
    assert all(_where(cloud, p) == [("dst", "INACTIVE"), ("src", "ACTIVE")] for p in pids)
    with count_cost(conductor.db.engine) as again:  # a repeat keeps them, writes nothing
        assert cloud.api["conductor"].bind_ports_to_host(NOVA_ADMIN, inst, "dst") == docs
    assert not [s for s in again.statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
