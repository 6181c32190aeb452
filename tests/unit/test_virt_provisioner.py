"""Boot-time provisioning: every request shape and every failure path.

Each failure test checks what a user would find afterwards: the ports left in
the database (none created by the failed boot, pre-existing ones as they
were), the addresses free again, and no device left "plugged" on the host.
"""

from __future__ import annotations

import threading

import pytest

from naas_lib import constants
from naas_lib import exceptions as exc
from naas_lib.virt.provisioner import NicRequest, Provisioner
from tests.support.fake_driver import FakeDriver

HOST = "compute-1"


@pytest.fixture
def svc(make_service):
    return make_service(host=HOST, driver_cls=FakeDriver, fake={"endpoint": "192.0.2.1"})


@pytest.fixture
def driver(svc) -> FakeDriver:
    """The fake driver of ``svc``: records plugs, fails or refuses on demand."""
    return FakeDriver.on(HOST)


@pytest.fixture
def prov(svc):
    return Provisioner(svc, poll_interval=0.01)


@pytest.fixture
def nets(svc, ctx):
    """Two networks: a /24 and a /30 with one usable address."""
    a = svc.create_network(ctx, name="net-a")
    sa = svc.create_subnet(ctx, network_id=a.id, cidr="10.0.0.0/24",
                           dns_nameservers=["10.0.0.53"],
                           host_routes=[{"destination": "192.168.0.0/24",
                                         "nexthop": "10.0.0.254"}])
    b = svc.create_network(ctx, name="net-b")
    sb = svc.create_subnet(ctx, network_id=b.id, cidr="10.1.0.0/30", enable_dhcp=False)
    return a, sa, b, sb


def inst(n: int = 1, project: str = "project-a") -> dict:
    return {"uuid": f"vm-{n}", "name": f"vm{n}", "project_id": project}


def used_ips(svc, admin_ctx) -> set[str]:
    return {f.ip_address for p in svc.list_ports(admin_ctx) for f in p.fixed_ips}


def comparable(port):
    d = port.to_dict()
    for k in ("revision_number", "updated_at"):
        d.pop(k)
    return d


# -- request shapes ------------------------------------------------------------


def test_networks_only_gives_nics_in_order_bound_plugged_and_active(svc, prov, ctx, nets, driver):
    a, sa, b, sb = nets
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=b.id),
                                                    NicRequest(network_id=a.id)], HOST)
    assert [v["network"]["id"] for v in info] == [b.id, a.id]
    for vif in info:
        port = svc.get_port(ctx, vif["id"])
        assert vif["address"] == port.mac_address
        assert vif["type"] == port.binding_vif_type == constants.VIF_TYPE_TAP
        assert vif["active"] is True and port.status == constants.PORT_STATUS_ACTIVE
        assert vif["devname"] == port.binding_vif_details["devname"]
        assert vif["details"]["mtu"] == vif["network"]["meta"]["mtu"] == a.mtu
        assert vif["vnic_type"] == "normal" and vif["preserve_on_delete"] is False
        assert port.binding_host_id == HOST and port.device_id == "vm-1"
        assert port.device_owner == constants.DEVICE_OWNER_COMPUTE
        assert driver.plugged[port.id] == port.network_id
        (sub,) = vif["network"]["subnets"]
        assert [ip["address"] for ip in sub["ips"]] == [f.ip_address for f in port.fixed_ips]
    net_a = info[1]["network"]
    assert net_a["label"] == "net-a"
    (sub_a,) = net_a["subnets"]
    assert sub_a["cidr"] == "10.0.0.0/24" and sub_a["gateway"]["address"] == "10.0.0.1"
    assert [d["address"] for d in sub_a["dns"]] == ["10.0.0.53"]
    assert sub_a["routes"][0]["cidr"] == "192.168.0.0/24"
    assert sub_a["routes"][0]["gateway"]["address"] == "10.0.0.254"
    atts = svc.list_attachments(ctx, instance_id="vm-1")
    assert {a.port_id for a in atts} == {v["id"] for v in info}
    assert all(a.owns_port and a.interface_id == a.port_id and a.host == HOST for a in atts)


def test_fixed_ip_and_mac_requests_are_honoured(svc, prov, ctx, nets):
    a, _, b, _ = nets
    info = prov.allocate_for_instance(ctx, inst(), [
        NicRequest(network_id=a.id, fixed_ip="10.0.0.77"),
        NicRequest(network_id=b.id, mac_address="fa:16:3e:00:00:42"),
        NicRequest(network_id=a.id, fixed_ip="10.0.0.78", mac_address="fa:16:3e:00:00:43"),
    ], HOST)
    assert info[0]["network"]["subnets"][0]["ips"][0]["address"] == "10.0.0.77"
    assert info[1]["address"] == "fa:16:3e:00:00:42"
    assert info[2]["address"] == "fa:16:3e:00:00:43"
    assert info[2]["network"]["subnets"][0]["ips"][0]["address"] == "10.0.0.78"


def test_existing_port_is_used_and_preserved_on_deallocate(svc, prov, ctx, nets, driver):
    a, _, b, _ = nets
    mine = svc.create_port(ctx, network_id=a.id, name="keep-me")
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(port_id=mine.id),
                                                    NicRequest(network_id=b.id)], HOST)
    assert info[0]["id"] == mine.id and info[0]["preserve_on_delete"] is True
    assert info[1]["preserve_on_delete"] is False
    assert svc.get_port(ctx, mine.id).device_id == "vm-1"
    assert svc.get_attachment(ctx, mine.id).owns_port is False

    released = prov.deallocate_for_instance(ctx, inst())
    assert set(released) == {mine.id, info[1]["id"]}
    (left,) = svc.list_ports(ctx)
    assert left.id == mine.id and left.name == "keep-me"
    assert left.device_id == "" and left.binding_host_id is None
    assert left.status == constants.PORT_STATUS_DOWN
    assert driver.plugged == {}
    assert prov.deallocate_for_instance(ctx, inst()) == []  # idempotent


def test_existing_port_with_its_network_named(svc, prov, ctx, nets):
    a, _, _, _ = nets
    mine = svc.create_port(ctx, network_id=a.id)
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id,
                                                               port_id=mine.id)], HOST)
    assert info[0]["id"] == mine.id


def test_two_nics_on_one_network_and_dict_requests(svc, prov, ctx, nets):
    a, _, _, _ = nets
    info = prov.allocate_for_instance(ctx, inst(), [{"network_id": a.id},
                                                    {"network_id": a.id}], HOST)
    assert len({v["id"] for v in info}) == 2
    assert len({v["network"]["subnets"][0]["ips"][0]["address"] for v in info}) == 2


def test_dual_stack_network_lists_both_subnets(svc, prov, ctx):
    net = svc.create_network(ctx, name="dual")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.9.0.0/24")
    svc.create_subnet(ctx, network_id=net.id, cidr="fd00:9::/64", ip_version=6)
    (vif,) = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=net.id)], HOST)
    versions = sorted(s["version"] for s in vif["network"]["subnets"])
    assert versions == [4, 6]
    assert all(s["ips"][0]["version"] == s["version"] for s in vif["network"]["subnets"])


def test_no_nics_is_an_empty_network_info(prov, ctx):
    assert prov.allocate_for_instance(ctx, inst(), [], HOST) == []


def test_other_host_is_bound_not_plugged_and_wait_times_out(svc, prov, ctx, nets, driver):
    a, _, _, _ = nets
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id)], "compute-2")
    port = svc.get_port(ctx, info[0]["id"])
    assert port.binding_host_id == "compute-2" and port.status == constants.PORT_STATUS_BUILD
    assert info[0]["active"] is False and driver.plugged == {}
    with pytest.raises(exc.PortsNotActive) as e:
        prov.wait_for_active(ctx, [port.id], timeout=0.05)
    assert e.value.ports == {port.id: (constants.PORT_STATUS_BUILD, None)}
    assert port.id in str(e.value) and "BUILD" in str(e.value)


# -- wait, plug, unplug ---------------------------------------------------------


def test_wait_for_active_returns_and_names_error_reason_and_missing(svc, prov, ctx, nets):
    a, _, _, _ = nets
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id)] * 2, HOST)
    ids = [v["id"] for v in info]
    prov.wait_for_active(ctx, ids, timeout=1)
    svc.set_port_status(ids[1], constants.PORT_STATUS_ERROR, "tap vanished")
    with pytest.raises(exc.PortsNotActive) as e:
        prov.wait_for_active(ctx, ids + ["no-such-port"], timeout=0.05)
    assert e.value.ports == {ids[1]: ("ERROR", "tap vanished"),
                             "no-such-port": ("MISSING", "port does not exist")}
    assert "tap vanished" in str(e.value)


def test_plug_and_unplug_vifs_are_idempotent(svc, prov, ctx, nets, driver):
    a, _, b, _ = nets
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id),
                                                    NicRequest(network_id=b.id)], HOST)
    ids = {v["id"] for v in info}
    prov.unplug_vifs(inst(), info)
    prov.unplug_vifs(inst(), info)
    assert driver.plugged == {}
    assert {svc.get_port(ctx, i).status for i in ids} == {constants.PORT_STATUS_DOWN}
    prov.plug_vifs(inst(), info)
    prov.plug_vifs(inst(), info)
    assert set(driver.plugged) == ids
    prov.wait_for_active(ctx, list(ids), timeout=1)
    prov.deallocate_for_instance(ctx, inst())
    prov.unplug_vifs(inst(), info)  # ports gone: still a no-op
    assert svc.list_ports(ctx) == [] and driver.plugged == {}


# -- failures: nothing is left behind --------------------------------------------


def _boot_fails(prov, ctx, nics, index, error_type, host=HOST, instance=None):
    with pytest.raises(exc.NicAllocationFailed) as e:
        prov.allocate_for_instance(ctx, instance or inst(), nics, host)
    assert e.value.index == index
    assert f"NIC {index} " in str(e.value)
    assert isinstance(e.value.__cause__, error_type), repr(e.value.__cause__)
    assert e.value.reason == e.value.__cause__.message
    return e.value


def _nothing_left(svc, admin_ctx, keep=()):
    assert {p.id for p in svc.list_ports(admin_ctx)} == set(keep)
    assert svc.list_attachments(admin_ctx) == []
    assert set(FakeDriver.on(HOST).plugged) == set()


def test_unknown_network_on_second_nic(svc, prov, ctx, admin_ctx, nets):
    a, _, _, _ = nets
    err = _boot_fails(prov, ctx, [NicRequest(network_id=a.id),
                                  NicRequest(network_id="no-such-net")], 1, exc.NetworkNotFound)
    assert err.kind == "not_found"
    _nothing_left(svc, admin_ctx)


def test_another_projects_private_network_is_not_found(svc, prov, ctx, other_ctx, admin_ctx):
    theirs = svc.create_network(other_ctx, name="theirs")
    _boot_fails(prov, ctx, [NicRequest(network_id=theirs.id)], 0, exc.NetworkNotFound)
    _nothing_left(svc, admin_ctx)


def test_exhausted_subnet_releases_the_other_nics_addresses(svc, prov, ctx, admin_ctx, nets,
                                                            driver):
    a, _, b, _ = nets
    one = svc.create_network(ctx, name="one-address")
    # only 10.2.0.2 is free
    svc.create_subnet(ctx, network_id=one.id, cidr="10.2.0.0/30", enable_dhcp=False)
    prov.allocate_for_instance(ctx, inst(1), [NicRequest(network_id=b.id)], HOST)  # b is full
    before_ips = used_ips(svc, admin_ctx)
    before_ports = {p.id for p in svc.list_ports(admin_ctx)}
    _boot_fails(prov, ctx, [NicRequest(network_id=a.id), NicRequest(network_id=one.id),
                            NicRequest(network_id=b.id)], 2, exc.IpAddressGenerationFailure,
                instance=inst(2))
    assert used_ips(svc, admin_ctx) == before_ips
    assert {p.id for p in svc.list_ports(admin_ctx)} == before_ports
    assert len(driver.plugged) == 1
    # The only address of "one-address" really is free again.
    info = prov.allocate_for_instance(ctx, inst(2), [NicRequest(network_id=one.id)], HOST)
    assert info[0]["network"]["subnets"][0]["ips"][0]["address"] == "10.2.0.2"


def test_taken_fixed_ip(svc, prov, ctx, admin_ctx, nets):
    a, _, b, _ = nets
    other = svc.create_port(ctx, network_id=a.id, fixed_ips=[{"ip_address": "10.0.0.9"}])
    _boot_fails(prov, ctx, [NicRequest(network_id=b.id),
                            NicRequest(network_id=a.id, fixed_ip="10.0.0.9")],
                1, exc.IpAddressInUse)
    _nothing_left(svc, admin_ctx, keep=[other.id])
    assert used_ips(svc, admin_ctx) == {"10.0.0.9"}


def test_taken_mac(svc, prov, ctx, admin_ctx, nets):
    a, _, b, _ = nets
    other = svc.create_port(ctx, network_id=a.id, mac_address="fa:16:3e:aa:bb:cc")
    _boot_fails(prov, ctx, [NicRequest(network_id=b.id),
                            NicRequest(network_id=a.id, mac_address="fa:16:3e:aa:bb:cc")],
                1, exc.MacAddressInUse)
    _nothing_left(svc, admin_ctx, keep=[other.id])


def test_fixed_ip_outside_every_subnet(svc, prov, ctx, admin_ctx, nets):
    a, _, _, _ = nets
    err = _boot_fails(prov, ctx, [NicRequest(network_id=a.id, fixed_ip="172.16.0.5")], 0,
                      exc.NaasError)
    assert err.kind == "bad_request"
    _nothing_left(svc, admin_ctx)


@pytest.mark.parametrize("nic, error", [
    (NicRequest(), exc.InvalidInput),
    (NicRequest(port_id="no-such-port"), exc.PortNotFound),
])
def test_malformed_or_unknown_requests(svc, prov, ctx, admin_ctx, nets, nic, error):
    a, _, _, _ = nets
    _boot_fails(prov, ctx, [NicRequest(network_id=a.id), nic], 1, error)
    _nothing_left(svc, admin_ctx)


def test_existing_port_with_ip_or_on_other_network_or_twice(svc, prov, ctx, admin_ctx, nets):
    a, _, b, _ = nets
    mine = svc.create_port(ctx, network_id=a.id)
    before = comparable(svc.get_port(ctx, mine.id))
    for nics in ([NicRequest(port_id=mine.id, fixed_ip="10.0.0.50")],
                 [NicRequest(port_id=mine.id, network_id=b.id)],
                 [NicRequest(port_id=mine.id), NicRequest(port_id=mine.id)]):
        _boot_fails(prov, ctx, nics, len(nics) - 1, exc.InvalidInput)
        assert comparable(svc.get_port(ctx, mine.id)) == before
    _nothing_left(svc, admin_ctx, keep=[mine.id])


def test_port_of_another_instance_is_refused_and_untouched(svc, prov, ctx, admin_ctx, nets, driver):
    a, _, b, _ = nets
    info = prov.allocate_for_instance(ctx, inst(1), [NicRequest(network_id=a.id)], HOST)
    taken = info[0]["id"]
    loose = svc.create_port(ctx, network_id=b.id, device_id="vm-elsewhere")
    snap = {p.id: comparable(p) for p in svc.list_ports(admin_ctx)}
    _boot_fails(prov, ctx, [NicRequest(network_id=b.id), NicRequest(port_id=taken)], 1,
                exc.PortInUse, instance=inst(2))
    _boot_fails(prov, ctx, [NicRequest(port_id=loose.id)], 0, exc.PortInUse, instance=inst(2))
    assert {p.id: comparable(p) for p in svc.list_ports(admin_ctx)} == snap
    assert svc.get_attachment(ctx, taken).instance_id == "vm-1"
    assert set(driver.plugged) == {taken}


def test_attached_port_without_device_id_is_refused(svc, prov, ctx, admin_ctx, nets):
    a, _, _, _ = nets
    port = svc.create_port(ctx, network_id=a.id)
    svc.attach_port(ctx, port.id, "someone-elses-vif")
    svc.update_port(ctx, port.id, device_id="")
    _boot_fails(prov, ctx, [NicRequest(network_id=a.id), NicRequest(port_id=port.id)], 1,
                exc.AlreadyAttached)
    assert svc.get_attachment(ctx, port.id).interface_id == "someone-elses-vif"
    assert {p.id for p in svc.list_ports(admin_ctx)} == {port.id}


@pytest.fixture
def bound_elsewhere(svc, ctx, admin_ctx, nets):
    """A caller's pre-existing port with a profile, bound (unattached) to another host."""
    a, _, _, _ = nets
    port = svc.create_port(admin_ctx, network_id=a.id, name="mine", project_id=ctx.project_id,
                           binding_profile={"netns": "guest-x"})
    return svc.update_port(admin_ctx, port.id, binding_host_id="compute-9")


def test_binding_failure_restores_the_pre_existing_port(svc, prov, ctx, admin_ctx, nets,
                                                        bound_elsewhere, driver):
    _, _, b, _ = nets
    before = comparable(bound_elsewhere)
    assert before["binding_host_id"] == "compute-9"
    driver.refused.add(b.id)
    _boot_fails(prov, ctx, [NicRequest(port_id=bound_elsewhere.id,
                                       binding_profile={"netns": "guest-y"}),
                            NicRequest(network_id=b.id)], 1, exc.BindingFailed)
    assert comparable(svc.get_port(ctx, bound_elsewhere.id)) == before
    _nothing_left(svc, admin_ctx, keep=[bound_elsewhere.id])


@pytest.mark.parametrize("failing_plug", [1, 2, 3])
def test_driver_failure_on_nth_plug_undoes_everything(svc, prov, ctx, admin_ctx, nets,
                                                      bound_elsewhere, failing_plug, driver):
    a, _, b, _ = nets
    before = comparable(bound_elsewhere)
    ips_before = used_ips(svc, admin_ctx)
    driver.fail_on_plug = failing_plug
    err = _boot_fails(prov, ctx, [NicRequest(network_id=a.id),
                                  NicRequest(port_id=bound_elsewhere.id),
                                  NicRequest(network_id=b.id)],
                      failing_plug - 1, exc.DriverError)
    assert "tap device could not be created" in err.reason
    assert err.kind == "unavailable"
    assert comparable(svc.get_port(ctx, bound_elsewhere.id)) == before
    assert used_ips(svc, admin_ctx) == ips_before
    _nothing_left(svc, admin_ctx, keep=[bound_elsewhere.id])


def test_interrupt_during_plug_undoes_and_propagates(svc, prov, ctx, admin_ctx, nets, driver):
    a, _, b, _ = nets
    driver.fail_on_plug, driver.interrupt = 2, True
    with pytest.raises(KeyboardInterrupt):
        prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id),
                                                 NicRequest(network_id=b.id)], HOST)
    _nothing_left(svc, admin_ctx)


def test_failed_boot_then_successful_retry_leaks_nothing(svc, prov, ctx, admin_ctx, nets, driver):
    a, _, b, _ = nets
    driver.fail_on_plug = 2
    _boot_fails(prov, ctx, [NicRequest(network_id=a.id, fixed_ip="10.0.0.20"),
                            NicRequest(network_id=b.id)], 1, exc.DriverError)
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id,
                                                               fixed_ip="10.0.0.20"),
                                                    NicRequest(network_id=b.id)], HOST)
    assert len(svc.list_ports(admin_ctx)) == 2 and len(driver.plugged) == 2
    assert info[0]["network"]["subnets"][0]["ips"][0]["address"] == "10.0.0.20"


def test_instance_without_uuid_or_host_is_refused(make_service, ctx):
    prov = Provisioner(make_service())  # a service with no host of its own
    with pytest.raises(exc.InvalidInput):
        prov.allocate_for_instance(ctx, {"name": "x", "project_id": "p"}, [], "h")
    with pytest.raises(exc.InvalidInput):
        prov.allocate_for_instance(ctx, inst(), [])


def test_wait_for_active_returns_when_the_host_plugs_later(svc, prov, ctx, nets):
    a, _, _, _ = nets
    info = prov.allocate_for_instance(ctx, inst(), [NicRequest(network_id=a.id)], "compute-2")
    port_id = info[0]["id"]
    timer = threading.Timer(0.2, svc.set_port_status, (port_id, constants.PORT_STATUS_ACTIVE))
    timer.start()
    try:
        prov.wait_for_active(ctx, [port_id], timeout=5)
    finally:
        timer.join()
    assert svc.get_port(ctx, port_id).status == constants.PORT_STATUS_ACTIVE


def test_malformed_request_objects_are_refused_before_anything_is_written(prov, ctx,
                                                                          admin_ctx, svc):
    for bad in ([{"network": "x"}], ["net-id"]):
        with pytest.raises(exc.InvalidInput):
            prov.allocate_for_instance(ctx, inst(), bad, HOST)
    _nothing_left(svc, admin_ctx)


# -- crash between commit and plug ---------------------------------------------


def test_new_ports_are_created_attached_so_a_crash_before_plug_leaks_nothing(
        svc, prov, ctx, admin_ctx, nets, driver):
    """What a compute process leaves when it dies right after the boot's commit."""
    a, _, b, _ = nets
    ports = svc.create_ports(admin_ctx, [
        {"network_id": a.id, "project_id": "project-a", "device_id": "vm-9"},
        {"network_id": b.id, "project_id": "project-a", "device_id": "vm-9"}],
        attachments=[{"instance_id": "vm-9", "host": HOST}] * 2)
    for port in ports:
        att = svc.get_attachment(admin_ctx, port.id)
        assert (att.interface_id, att.instance_id, att.owns_port) == (port.id, "vm-9", True)
        assert port.binding_host_id == HOST and port.status == constants.PORT_STATUS_BUILD
    assert driver.plugged == {}
    prov.deallocate_for_instance(ctx, inst(9))
    assert svc.list_ports(admin_ctx) == []
    assert used_ips(svc, admin_ctx) == set()


def test_create_with_attachment_is_all_or_nothing(svc, ctx, admin_ctx, nets, driver):
    a, _, b, _ = nets
    driver.refused.add(b.id)
    with pytest.raises(exc.BindingFailed):
        svc.create_ports(admin_ctx, [
            {"network_id": a.id, "project_id": "project-a"},
            {"network_id": b.id, "project_id": "project-a"}],
            attachments=[{"instance_id": "vm-1", "host": HOST}] * 2)
    assert svc.list_ports(admin_ctx) == []
    assert svc.list_attachments(admin_ctx) == []
    with pytest.raises(exc.InvalidInput):
        svc.create_ports(admin_ctx, [{"network_id": a.id}], attachments=[])


def test_network_info_follows_subnet_changes_made_by_another_process(make_service, tmp_path,
                                                                     ctx):
    """Subnets reused by the boot path are never older than their revision in the database."""
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    svc = make_service(database_url=url, host=HOST, driver_cls=FakeDriver,
                       fake={"endpoint": "192.0.2.1"})
    other = make_service(database_url=url)  # another process's service on the same database
    net = svc.create_network(ctx, name="net")
    sub = svc.create_subnet(ctx, network_id=net.id, cidr="10.5.0.0/24",
                            dns_nameservers=["10.5.0.53"])
    prov = Provisioner(svc, poll_interval=0.01)

    def subnet_info(n: int) -> dict:
        (vif,) = prov.allocate_for_instance(ctx, inst(n), [NicRequest(network_id=net.id)], HOST)
        (info,) = vif["network"]["subnets"]
        return info

    assert [d["address"] for d in subnet_info(1)["dns"]] == ["10.5.0.53"]
    other.update_subnet(ctx, sub.id, dns_nameservers=["10.5.0.54"],
                        host_routes=[{"destination": "192.168.9.0/24", "nexthop": "10.5.0.254"}])
    changed = subnet_info(2)
    assert [d["address"] for d in changed["dns"]] == ["10.5.0.54"]
    assert [r["cidr"] for r in changed["routes"]] == ["192.168.9.0/24"]
    other.create_subnet(ctx, network_id=net.id, cidr="10.6.0.0/24", gateway_ip="10.6.0.9")
    (vif,) = prov.allocate_for_instance(
        ctx, inst(3), [NicRequest(network_id=net.id, fixed_ip="10.6.0.10")], HOST)
    (added,) = [s for s in vif["network"]["subnets"] if s["cidr"] == "10.6.0.0/24"]
    assert added["gateway"]["address"] == "10.6.0.9"
