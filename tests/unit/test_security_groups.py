"""Security groups, rules and port security fields, as a Neutron user sees them (SQLite)."""

from __future__ import annotations

import pytest

from naas_lib import events
from naas_lib import exceptions as exc


@pytest.fixture
def host_service(make_service):
    """A service of host h1 with the noop driver (it records the nft scripts)."""
    return make_service(host="h1")


def _rules(group):
    return sorted((r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max,
                   r.remote_ip_prefix, r.remote_group_id is not None)
                  for r in group.security_group_rules)


def test_a_projects_default_group_is_made_on_first_need_with_neutrons_rules(
        service, ctx, net, subnet):
    port = service.create_port(ctx, network_id=net.id)
    groups = service.list_security_groups(ctx)
    assert [g.name for g in groups] == ["default"]
    default = groups[0]
    assert port.port_security_enabled is True
    assert port.security_groups == (default.id,)
    assert _rules(default) == [
        ("egress", "IPv4", None, None, None, None, False),
        ("egress", "IPv6", None, None, None, None, False),
        ("ingress", "IPv4", None, None, None, None, True),
        ("ingress", "IPv6", None, None, None, None, True)]
    assert {r.remote_group_id for r in default.security_group_rules} == {None, default.id}
    # One default group per project, however often it is needed.
    service.create_port(ctx, network_id=net.id)
    service.create_security_group(ctx, name="web")
    assert [g.name for g in service.list_security_groups(ctx)].count("default") == 1


def test_a_new_group_starts_with_the_two_egress_rules(service, ctx):
    web = service.create_security_group(ctx, name="web", description="front")
    assert (web.name, web.description, web.project_id) == ("web", "front", ctx.project_id)
    assert _rules(web) == [("egress", "IPv4", None, None, None, None, False),
                           ("egress", "IPv6", None, None, None, None, False)]
    assert service.get_security_group(ctx, web.id) == web
    renamed = service.update_security_group(ctx, web.id, name="www")
    assert renamed.name == "www" and renamed.revision_number == web.revision_number + 1


def test_rules_are_added_listed_and_deleted_and_a_duplicate_is_refused(service, ctx):
    web = service.create_security_group(ctx, name="web")
    rule = service.create_security_group_rule(
        ctx, security_group_id=web.id, direction="ingress", protocol="tcp",
        port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    assert rule.remote_ip_prefix is None  # "anywhere", as Neutron stores it
    with pytest.raises(exc.SecurityGroupRuleExists) as err:
        service.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                           protocol="TCP", port_range_min=80,
                                           port_range_max=80)
    assert rule.id in err.value.message
    assert service.get_security_group_rule(ctx, rule.id) == rule
    assert rule.id in {r.id for r in service.list_security_group_rules(
        ctx, security_group_id=web.id)}
    assert rule in service.get_security_group(ctx, web.id).security_group_rules
    service.delete_security_group_rule(ctx, rule.id)
    with pytest.raises(exc.SecurityGroupRuleNotFound):
        service.get_security_group_rule(ctx, rule.id)


BAD_RULES = {
    "min above max": dict(protocol="tcp", port_range_min=90, port_range_max=80),
    "ports on icmp": dict(protocol="icmp", port_range_min=None, port_range_max=8),
    "ports without a protocol": dict(port_range_min=22, port_range_max=22),
    "port out of range": dict(protocol="udp", port_range_min=0, port_range_max=70000),
    "unknown protocol": dict(protocol="carrier-pigeon"),
    "bad direction": dict(direction="sideways"),
    "bad ethertype": dict(ethertype="IPX"),
    "prefix with host bits": dict(remote_ip_prefix="10.0.0.1/24"),
    "prefix of the other family": dict(remote_ip_prefix="fd00::/64"),
    "icmpv6 on IPv4": dict(protocol="icmpv6"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_bad_rules_are_typed_errors_and_change_nothing(service, ctx, db_unchanged, case):
    web = service.create_security_group(ctx, name="web")
    attrs = {"security_group_id": web.id, "direction": "ingress", **BAD_RULES[case]}
    with db_unchanged(), pytest.raises(exc.InvalidSecurityGroupRule):
        service.create_security_group_rule(ctx, **attrs)


def test_unknown_or_invisible_remote_group_is_not_found(service, ctx, other_ctx,
                                                        db_unchanged):
    web = service.create_security_group(ctx, name="web")
    theirs = service.create_security_group(other_ctx, name="theirs")
    for remote in ("no-such-group", theirs.id):
        with db_unchanged(), pytest.raises(exc.SecurityGroupNotFound):
            service.create_security_group_rule(ctx, security_group_id=web.id,
                                               direction="ingress", remote_group_id=remote)


def test_another_projects_group_is_not_found(service, ctx, other_ctx, net, db_unchanged):
    theirs = service.create_security_group(other_ctx, name="theirs")
    service.list_security_groups(ctx)  # makes ctx's default group
    with db_unchanged():
        for call in (lambda: service.get_security_group(ctx, theirs.id),
                     lambda: service.update_security_group(ctx, theirs.id, name="x"),
                     lambda: service.delete_security_group(ctx, theirs.id),
                     lambda: service.create_security_group_rule(
                         ctx, security_group_id=theirs.id, direction="ingress"),
                     lambda: service.create_port(ctx, network_id=net.id,
                                                 security_groups=[theirs.id])):
            with pytest.raises(exc.SecurityGroupNotFound):
                call()
        assert theirs.id not in {g.id for g in service.list_security_groups(ctx)}
        assert not [r for r in service.list_security_group_rules(ctx)
                    if r.security_group_id == theirs.id]


def test_a_group_in_use_cannot_be_deleted_the_default_one_included(service, ctx, net):
    web = service.create_security_group(ctx, name="web")
    port = service.create_port(ctx, network_id=net.id, security_groups=[web.id])
    default = next(g for g in service.list_security_groups(ctx) if g.name == "default")
    other = service.create_port(ctx, network_id=net.id)
    for group in (web, default):
        with pytest.raises(exc.SecurityGroupInUse):
            service.delete_security_group(ctx, group.id)
    service.delete_port(ctx, port.id)
    service.delete_port(ctx, other.id)
    service.delete_security_group(ctx, web.id)
    service.delete_security_group(ctx, default.id)
    assert service.list_security_groups(ctx)[0].id != default.id  # a new default is made


def test_deleting_a_group_removes_rules_that_name_it_as_remote(service, ctx):
    web = service.create_security_group(ctx, name="web")
    db = service.create_security_group(ctx, name="db")
    rule = service.create_security_group_rule(ctx, security_group_id=db.id,
                                              direction="ingress", remote_group_id=web.id)
    service.delete_security_group(ctx, web.id)
    assert rule.id not in {r.id for r in service.get_security_group(
        ctx, db.id).security_group_rules}


def test_the_default_group_keeps_its_name_and_no_other_group_takes_it(service, ctx):
    default = service.list_security_groups(ctx)[0]
    with pytest.raises(exc.Conflict):
        service.update_security_group(ctx, default.id, name="other")
    with pytest.raises(exc.Conflict):
        service.create_security_group(ctx, name="default")


def test_port_fields_follow_neutron(service, ctx, net, subnet):
    web = service.create_security_group(ctx, name="web")
    port = service.create_port(ctx, network_id=net.id, security_groups=[web.id],
                               allowed_address_pairs=[{"ip_address": "10.0.0.200"},
                                                      {"ip_address": "10.0.1.0/24",
                                                       "mac_address": "fa:16:3e:00:00:01"}])
    assert port.security_groups == (web.id,)
    pairs = {(p.ip_address, p.mac_address) for p in port.allowed_address_pairs}
    assert pairs == {("10.0.0.200", port.mac_address), ("10.0.1.0/24", "fa:16:3e:00:00:01")}
    assert service.get_port(ctx, port.id) == port
    # No groups asked for explicitly: none (not the default).
    bare = service.create_port(ctx, network_id=net.id, security_groups=[])
    assert bare.security_groups == () and bare.port_security_enabled
    # A network without port security hands it down; its ports get no group.
    open_net = service.create_network(ctx, name="open", port_security_enabled=False)
    assert open_net.port_security_enabled is False
    loose = service.create_port(ctx, network_id=open_net.id)
    assert (loose.port_security_enabled, loose.security_groups) == (False, ())


def test_turning_port_security_off_needs_groups_and_pairs_cleared_together(
        service, ctx, net, subnet, db_unchanged):
    port = service.create_port(ctx, network_id=net.id,
                               allowed_address_pairs=[{"ip_address": "10.0.0.99"}])
    with db_unchanged():
        for attrs in ({"port_security_enabled": False},
                      {"port_security_enabled": False, "security_groups": []},
                      {"port_security_enabled": False, "allowed_address_pairs": []}):
            with pytest.raises(exc.InvalidInput, match="port_security_enabled"):
                service.update_port(ctx, port.id, **attrs)
    off = service.update_port(ctx, port.id, port_security_enabled=False, security_groups=[],
                              allowed_address_pairs=[])
    assert (off.port_security_enabled, off.security_groups, off.allowed_address_pairs) == (
        False, (), ())
    with pytest.raises(exc.InvalidInput):
        service.create_port(ctx, network_id=net.id, port_security_enabled=False,
                            allowed_address_pairs=[{"ip_address": "10.0.0.5"}])


BAD_PAIRS = {
    "overlapping": [{"ip_address": "10.0.0.0/24"}, {"ip_address": "10.0.0.7"}],
    "host bits": [{"ip_address": "10.0.0.1/24"}],
    "no ip": [{"mac_address": "fa:16:3e:00:00:01"}],
    "not an address": [{"ip_address": "ten"}],
    "unknown key": [{"ip_address": "10.0.0.5", "vlan": 3}],
    "not a list": "10.0.0.5",
}


@pytest.mark.parametrize("case", sorted(BAD_PAIRS))
def test_bad_address_pairs_are_typed_errors_and_change_nothing(service, ctx, net, subnet,
                                                               db_unchanged, case):
    port = service.create_port(ctx, network_id=net.id)
    with db_unchanged():
        with pytest.raises(exc.InvalidAllowedAddressPair):
            service.create_port(ctx, network_id=net.id, allowed_address_pairs=BAD_PAIRS[case])
        with pytest.raises(exc.InvalidAllowedAddressPair):
            service.update_port(ctx, port.id, allowed_address_pairs=BAD_PAIRS[case])


def test_the_default_group_is_made_with_the_projects_first_network(service, ctx, other_ctx,
                                                                   admin_ctx):
    made = []
    service.events.subscribe(lambda resource, event, trigger, payload: made.append(
        payload.latest), events.SECURITY_GROUP, events.AFTER_CREATE)
    # Not by a network whose ports have no port security ...
    service.create_network(ctx, name="open", port_security_enabled=False)
    assert made == []
    # ... but by the first one that has it, in the same transaction; the
    # project's ports then join that group.
    net = service.create_network(ctx, name="net")
    assert [(g.name, g.project_id) for g in made] == [("default", ctx.project_id)]
    service.create_network(ctx, name="second")
    port = service.create_port(ctx, network_id=net.id)
    assert len(made) == 1 and port.security_groups == (made[0].id,)
    # A project without a network of its own still gets one on first need.
    shared = service.create_network(admin_ctx, name="shared", shared=True)
    theirs = service.create_port(other_ctx, network_id=shared.id)
    assert [g.project_id for g in made[1:]] == [admin_ctx.project_id, other_ctx.project_id]
    assert theirs.security_groups == (made[2].id,)


def test_a_failed_port_create_leaves_no_default_group(service, ctx, net, db_unchanged):
    with db_unchanged(), pytest.raises(exc.InvalidInput):
        service.create_port(ctx, network_id=net.id, fixed_ips="nonsense")


def test_events_and_notifications_of_groups_and_rules(service, ctx):
    seen = []

    def record(resource, event, trigger, payload):
        seen.append((resource, event))

    for resource in (events.SECURITY_GROUP, events.SECURITY_GROUP_RULE):
        for event in (events.BEFORE_CREATE, events.PRECOMMIT_CREATE, events.AFTER_CREATE,
                      events.AFTER_UPDATE, events.AFTER_DELETE):
            service.events.subscribe(record, resource, event)
    net = service.create_network(ctx, name="net")  # makes the default group
    service.create_port(ctx, network_id=net.id)  # finds it
    assert seen == [("security_group", "after_create")]
    seen.clear()
    web = service.create_security_group(ctx, name="web")
    rule = service.create_security_group_rule(ctx, security_group_id=web.id,
                                              direction="ingress", protocol="udp")
    service.update_security_group(ctx, web.id, description="d")
    service.delete_security_group_rule(ctx, rule.id)
    service.delete_security_group(ctx, web.id)
    assert seen == [
        ("security_group", "before_create"), ("security_group", "precommit_create"),
        ("security_group", "after_create"),
        ("security_group_rule", "before_create"), ("security_group_rule", "precommit_create"),
        ("security_group_rule", "after_create"),
        ("security_group", "after_update"),
        ("security_group_rule", "after_delete"),
        ("security_group", "after_delete")]


def test_a_veto_in_precommit_leaves_nothing(service, ctx, db_unchanged):
    def veto(*args):
        raise ValueError("no rules today")

    web = service.create_security_group(ctx, name="web")
    service.events.subscribe(veto, events.SECURITY_GROUP_RULE, events.PRECOMMIT_CREATE)
    with db_unchanged(), pytest.raises(Exception, match="no rules today"):
        service.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress")


def test_rule_and_membership_changes_reach_this_hosts_driver_at_once(
        host_service, admin_ctx, ctx):
    svc = host_service
    net = svc.create_network(ctx, name="n")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    web = svc.create_security_group(ctx, name="web")
    port = svc.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                           security_groups=[web.id], binding_host_id="h1")
    svc.plug_port(port.id)
    programmed = svc.driver.portsec.portsec.ports()
    assert [p.security_groups for p in programmed.values()] == [(web.id,)]
    scripts = svc.driver.nft.scripts
    before = len(scripts)
    svc.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                   protocol="tcp", port_range_min=22, port_range_max=22)
    assert any("th dport 22" in s for s in list(scripts)[before:])
    # A second member on another host: its address joins the set here at once.
    before = len(scripts)
    svc.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                    security_groups=[web.id], fixed_ips=[{"ip_address": "10.0.0.77"}],
                    binding_host_id="h2")
    assert any("10.0.0.77" in s for s in list(scripts)[before:])
    # Port security off: the port's rules go.
    svc.update_port(ctx, port.id, port_security_enabled=False, security_groups=[])
    assert svc.driver.portsec.portsec.ports() == {}
    report = svc.sync()
    assert port.id in report.active_ports and not report.failed_ports


def test_a_boots_nics_get_their_port_security_in_one_transaction(host_service, admin_ctx, ctx):
    from naas_lib.virt.provisioner import NicRequest, Provisioner
    svc = host_service
    nets = [svc.create_network(ctx, name=f"n{i}") for i in range(2)]
    for i, net in enumerate(nets):
        svc.create_subnet(ctx, network_id=net.id, cidr=f"10.{i}.0.0/24")
    scripts = svc.driver.nft.scripts
    before = len(scripts)
    info = Provisioner(svc).allocate_for_instance(
        ctx, {"uuid": "vm-1", "project_id": ctx.project_id},
        [NicRequest(network_id=n.id) for n in nets], "h1")
    new = list(scripts)[before:]
    programmed = svc.driver.portsec.portsec.ports()
    assert len(programmed) == 2
    # Both ports' anti-spoofing and groups are in the same (single) transaction.
    port_scripts = [s for s in new if "add element bridge naas_portsec ports" in s]
    assert len(port_scripts) == 1
    assert all(f'"{device}"' in port_scripts[0] for device in programmed)
    assert [svc.get_port(ctx, vif["id"]).status for vif in info] == ["ACTIVE", "ACTIVE"]
    # plug_vifs (Nova's host side) programs them again together: one transaction.
    svc.driver.portsec.portsec.remove_port(next(iter(programmed)))
    before = len(scripts)
    Provisioner(svc).plug_vifs(None, info)
    assert len([s for s in list(scripts)[before:] if "naas_portsec" in s]) == 1
    assert len(svc.driver.portsec.portsec.ports()) == 2


def test_a_failed_port_in_a_batch_is_error_and_the_others_active(host_service, admin_ctx,
                                                                 ctx):
    svc = host_service
    net = svc.create_network(ctx, name="n")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    ports = [svc.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                             binding_host_id="h1") for _ in range(2)]
    original = type(svc.driver).plug_many

    def half_fails(self, items):
        items = list(items)
        failed = original(self, items)
        failed[items[1][0].id] = exc.DriverError(driver="noop", reason="no tap today")
        return failed

    type(svc.driver).plug_many = half_fails
    try:
        with pytest.raises(exc.DriverError, match="no tap today"):
            svc.plug_ports([(p, net) for p in ports])
    finally:
        type(svc.driver).plug_many = original
    assert [svc.get_port(ctx, p.id).status for p in ports] == ["ACTIVE", "ERROR"]
    assert "no tap today" in svc.get_port(ctx, ports[1].id).status_reason


def test_a_rule_change_moves_its_groups_revision(service, ctx):
    web = service.create_security_group(ctx, name="web")
    db = service.create_security_group(ctx, name="db")
    r = service.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                           protocol="tcp", port_range_min=80,
                                           port_range_max=80)
    assert service.get_security_group(ctx, web.id).revision_number == web.revision_number + 1
    service.delete_security_group_rule(ctx, r.id)
    assert service.get_security_group(ctx, web.id).revision_number == web.revision_number + 2
    # Deleting a group takes the rules naming it with it: their group's rules changed.
    service.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                       remote_group_id=db.id)
    service.delete_security_group(ctx, db.id)
    assert service.get_security_group(ctx, web.id).revision_number == web.revision_number + 4


def test_a_plug_gets_rules_another_process_changed_and_joins_its_groups_members(
        make_service, tmp_path, admin_ctx, ctx):
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    host = make_service(host="h1", database_url=url, create_schema=True)
    api = make_service(database_url=url)  # another process: the host's driver hears nothing
    net = host.create_network(ctx, name="n")
    host.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    web = host.create_security_group(ctx, name="web")
    host.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                    remote_group_id=web.id)

    def plug(ip):
        port = host.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                                security_groups=[web.id], binding_host_id="h1",
                                fixed_ips=[{"ip_address": ip}])
        before = len(host.driver.nft.scripts)
        host.plug_port(port.id)
        return "\n".join(list(host.driver.nft.scripts)[before:])

    plug("10.0.0.10")
    api.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                   protocol="tcp", port_range_min=22, port_range_max=22)
    script = plug("10.0.0.11")
    assert "th dport 22" in script  # the group's revision moved: read again
    # Nothing moved: the group is not read again, yet the new port joins its members here.
    script = plug("10.0.0.12")
    assert "th dport 22" not in script
    assert f"add element inet naas_sg h4_{web.id} {{ 10.0.0.12 }}" in script
    report = host.sync()
    assert not report.failed_ports


def test_a_rule_naming_a_remote_group_fills_its_members_here_at_once(host_service, admin_ctx,
                                                                      ctx):
    svc = host_service
    net = svc.create_network(ctx, name="n")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24")
    web, db = (svc.create_security_group(ctx, name=n) for n in ("web", "db"))
    port = svc.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                           security_groups=[web.id], binding_host_id="h1")
    svc.plug_port(port.id)
    # db's only member is on another host: this host never had a reason to hold db.
    svc.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                    security_groups=[db.id], fixed_ips=[{"ip_address": "10.0.0.77"}],
                    binding_host_id="h2")
    before = len(svc.driver.nft.scripts)
    svc.create_security_group_rule(ctx, security_group_id=web.id, direction="ingress",
                                   remote_group_id=db.id)
    new = "\n".join(list(svc.driver.nft.scripts)[before:])
    assert f"h4_{db.id}" in new and "10.0.0.77" in new  # not an empty set until a round


def test_a_plugs_port_security_work_does_not_grow_with_its_groups_members(
        host_service, admin_ctx, ctx, monkeypatch):
    """A host's default group holds every port of the project: a plug that joined it
    by copying, sorting or re-checking all members got slower with each instance.

    Counted as Python function calls (generator steps included) in the driver's
    port security during a plug, with 8 members and with 308."""
    import cProfile
    import pstats

    svc = host_service
    net = svc.create_network(ctx, name="n")
    svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/22")
    portsec = svc.driver.portsec
    counted = []

    def profiled(method):
        def run(*args):
            profile = cProfile.Profile()
            profile.runcall(method, *args)
            counted.append(pstats.Stats(profile).total_calls)
        return run
    for name in ("apply", "apply_many"):  # a plug of one port, a boot's batch
        monkeypatch.setattr(portsec, name, profiled(getattr(portsec, name)))

    def plug_one():
        port = svc.create_port(admin_ctx, network_id=net.id, project_id=ctx.project_id,
                               binding_host_id="h1")
        svc.plug_port(port.id)
        return counted[-1]

    for _ in range(5):
        plug_one()
    few = [plug_one() for _ in range(3)]
    for _ in range(300):
        plug_one()
    many = [plug_one() for _ in range(3)]
    assert max(many) <= max(few) + 10, (few, many)
    group = svc.list_security_groups(ctx)[0]
    members = portsec.groups[group.id].members
    assert len(members) == len(set(members)) == 311  # every port's address, once
