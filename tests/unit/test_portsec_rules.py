"""The port security renderer: inputs to nft text, and typed errors for bad input."""

from __future__ import annotations

import json
import re

import pytest

from naas_lib import exceptions as exc
from naas_lib.drivers.linuxbridge import portsec_rules as R
from naas_lib.drivers.linuxbridge.portsec import (
    AddressPair,
    DesiredPortSecurity,
    PortSecurity,
    PortSpec,
    SecurityGroup,
    SecurityGroupRule,
    TrustedResponders,
)

MAC = "fa:16:3e:00:00:01"


def rule(direction="ingress", **kw) -> SecurityGroupRule:
    return SecurityGroupRule(direction, **kw)


def port(**kw) -> PortSpec:
    values = dict(device="tapabc", mac=MAC, fixed_ips=("10.0.0.5", "2001:db8::5"),
                  security_groups=("default",))
    values.update(kw)
    return PortSpec(**values)


# -- rule shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [
    (rule(), "meta nfproto ipv4"),
    (rule(ethertype="IPv6"), "meta nfproto ipv6"),
    (rule(protocol="tcp", port_range_min=22, port_range_max=22),
     "meta nfproto ipv4 meta l4proto 6 th dport 22"),
    (rule(protocol="udp", port_range_min=1000, port_range_max=2000),
     "meta nfproto ipv4 meta l4proto 17 th dport 1000-2000"),
    (rule(protocol="tcp"), "meta nfproto ipv4 meta l4proto 6"),
    (rule(protocol="icmp"), "meta nfproto ipv4 meta l4proto 1"),
    (rule(protocol="icmp", port_range_min=8), "meta nfproto ipv4 meta l4proto 1 icmp type 8"),
    (rule(protocol="icmp", port_range_min=3, port_range_max=4),
     "meta nfproto ipv4 meta l4proto 1 icmp type 3 icmp code 4"),
    (rule(ethertype="IPv6", protocol="icmpv6", port_range_min=128),
     "meta nfproto ipv6 meta l4proto 58 icmpv6 type 128"),
    (rule(ethertype="IPv6", protocol="icmp"), "meta nfproto ipv6 meta l4proto 58"),
    (rule(ethertype="IPv6", protocol="ipv6-icmp"), "meta nfproto ipv6 meta l4proto 58"),
    (rule(protocol=47), "meta nfproto ipv4 meta l4proto 47"),
    (rule(protocol="112"), "meta nfproto ipv4 meta l4proto 112"),
    (rule(remote_ip_prefix="10.1.0.0/16"), "meta nfproto ipv4 ip saddr 10.1.0.0/16"),
    (rule("egress", remote_ip_prefix="10.1.0.0/16"), "meta nfproto ipv4 ip daddr 10.1.0.0/16"),
    (rule(ethertype="IPv6", remote_ip_prefix="2001:db8::/32"),
     "meta nfproto ipv6 ip6 saddr 2001:db8::/32"),
    # A remote group is matched in its two sets: single addresses, then CIDRs.
    (rule(remote_group_id="g1"), ["meta nfproto ipv4 ip saddr @h4_g1",
                                  "meta nfproto ipv4 ip saddr @m4_g1"]),
    (rule("egress", ethertype="IPv6", remote_group_id="g1"),
     ["meta nfproto ipv6 ip6 daddr @h6_g1", "meta nfproto ipv6 ip6 daddr @m6_g1"]),
])
def test_every_rule_shape_renders(given, expected):
    expected = [expected] if isinstance(expected, str) else expected
    assert R.rule_statements(given) == expected


@pytest.mark.parametrize(("given", "words"), [
    (rule("sideways"), "direction"),
    (rule(ethertype="IPX"), "ethertype"),
    (rule(protocol="bogus"), "not supported"),
    (rule(protocol=256), "between 0 and 255"),
    (rule(protocol="tcp", port_range_min=80, port_range_max=22), "greater than"),
    (rule(protocol="tcp", port_range_min=0, port_range_max=22), "1-65535"),
    (rule(protocol="tcp", port_range_min=22), "together"),
    (rule(protocol="icmp", port_range_min=300), "ICMP type 300"),
    (rule(protocol="icmp", port_range_min=8, port_range_max=256), "ICMP code 256"),
    (rule(protocol="icmp", port_range_max=0), "needs an ICMP type"),
    (rule(port_range_min=22, port_range_max=22), "only valid for TCP"),
    (rule(protocol="gre", port_range_min=1, port_range_max=2), "only valid for TCP"),
    (rule(protocol="icmpv6"), "needs ethertype IPv6"),
    (rule(protocol="tcp", port_range_min="22", port_range_max=22), "not an integer"),
    (rule(remote_ip_prefix="10.0.0.5/24"), "host bits"),
    (rule(remote_ip_prefix="nonsense"), "remote_ip_prefix"),
    (rule(ethertype="IPv6", remote_ip_prefix="10.0.0.0/8"), "does not match"),
    (rule(remote_ip_prefix="10.0.0.0/8", remote_group_id="g"), "only one of"),
])
def test_bad_rules_raise_typed_errors(given, words):
    with pytest.raises(exc.InvalidSecurityGroupRule) as err:
        R.check_rule(given)
    assert words in str(err.value)
    assert err.value.kind == "bad_request"


def test_duplicate_rule_in_a_group_is_refused():
    group = SecurityGroup("g", (rule(protocol="tcp", port_range_min=22, port_range_max=22,
                                     id="r1"),
                                rule(protocol="6", port_range_min=22, port_range_max=22)))
    with pytest.raises(exc.SecurityGroupRuleExists, match="r1"):
        R.check_group(group)


def test_bad_remote_group_id_is_refused():
    with pytest.raises(exc.InvalidInput):
        R.check_rule(rule(remote_group_id="a b"))


# -- ports and pairs -----------------------------------------------------------------------


@pytest.mark.parametrize(("given", "error"), [
    (port(allowed_address_pairs=(AddressPair("10.0.0.5/24"),)), exc.InvalidAllowedAddressPair),
    (port(allowed_address_pairs=(AddressPair("not-an-ip"),)), exc.InvalidAllowedAddressPair),
    (port(allowed_address_pairs=(AddressPair("10.0.0.0/24"), AddressPair("10.0.0.7"))),
     exc.InvalidAllowedAddressPair),
    (port(allowed_address_pairs=(AddressPair("10.0.0.7", "zz:zz"),)), exc.InvalidInput),
    (port(device="tap/../x"), exc.InvalidInput),
    (port(device="a-very-long-device-name"), exc.InvalidInput),
    (port(mac="01:00:5e:00:00:01"), exc.InvalidInput),
    (port(mac="fa:16:3e"), exc.InvalidInput),
    (port(fixed_ips=("10.0.0.0/24",)), exc.InvalidInput),
    (port(port_security_enabled=False), exc.InvalidInput),
    (port(security_groups=("bad id",)), exc.InvalidInput),
])
def test_bad_ports_raise_typed_errors(given, error):
    with pytest.raises(error):
        R.check_port(given)


def test_pairs_with_other_macs_may_overlap_and_pairs_may_cover_fixed_ips():
    spec = port(allowed_address_pairs=(AddressPair("10.0.0.0/24"),
                                       AddressPair("10.0.0.0/24", "fa:16:3e:00:00:09")))
    R.check_port(spec)
    elements = R.port_elements(spec, 7)
    # The fixed IP inside the pair's CIDR is merged into it (interval sets refuse overlaps).
    assert elements["src4"] == [f'"tapabc" . {MAC} . 10.0.0.0/24',
                                '"tapabc" . fa:16:3e:00:00:09 . 10.0.0.0/24']
    assert elements["src4h"] == []
    assert elements["macs"] == [f'"tapabc" . {MAC}', '"tapabc" . fa:16:3e:00:00:09']


def test_link_local_is_the_modified_eui64_of_the_mac():
    assert str(R.link_local("52:54:00:12:34:56")) == "fe80::5054:ff:fe12:3456"
    assert str(R.link_local("fa:16:3e:00:00:01")) == "fe80::f816:3eff:fe00:1"


def test_port_elements_name_its_sources_marks_and_neighbour_targets():
    elements = R.port_elements(port(), 7)
    assert elements["ports"] == ['"tapabc"']
    assert elements["from_mark"] == ['"tapabc" : 0x10000007']
    assert elements["to_mark"] == ['"tapabc" : 0x20000007']
    # Single addresses go to the hash sets, the interval sets stay empty.
    assert elements["src4h"] == [f'"tapabc" . {MAC} . 10.0.0.5']
    assert elements["src4"] == []
    assert f'"tapabc" . {MAC} . fe80::f816:3eff:fe00:1' in elements["src6h"]
    assert f'"tapabc" . {MAC} . 2001:db8::5' in elements["src6h"]
    assert elements["src6"] == []
    # Neighbour advertisements may announce only the port's own IPv6 addresses.
    assert '"tapabc" . 0x20010db8000000000000000000000005' in elements["na6h"]
    assert elements["na6"] == []


def test_ipv6_cidr_pairs_go_to_the_interval_sets():
    elements = R.port_elements(port(allowed_address_pairs=(AddressPair("2001:db8:1::/64"),)), 7)
    assert f'"tapabc" . {MAC} . 2001:db8:1::/64' in elements["src6"]
    assert ('"tapabc" . 0x20010db8000100000000000000000000-0x20010db80001000'
            '0ffffffffffffffff') in elements["na6"]


def test_spoof_chain_allows_dhcp_and_dad_and_forbids_servers():
    text = "\n".join(R.bridge_skeleton(TrustedResponders()))
    assert "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return" in text
    assert "ether type ip meta l4proto udp udp sport 67 drop" in text
    assert "ether type ip6 meta l4proto udp udp sport 547 drop" in text
    assert "icmpv6 type { nd-router-advert, nd-redirect } drop" in text
    assert "ip6 saddr :: icmpv6 type { nd-neighbor-solicit" in text
    assert "arp saddr ip 0.0.0.0 iifname . arp saddr ether @macs return" in text
    # Own single address: accepted; else only an own CIDR pair; else dropped.
    assert "ether type ip iifname . ether saddr . ip saddr @src4h return" in text
    assert "ether type ip iifname . ether saddr . ip saddr != @src4 drop" in text
    assert text.index("@src4h return") < text.index("ip saddr != @src4 drop")
    assert "icmpv6 type nd-neighbor-advert jump na_target" in text
    assert "add rule bridge naas_portsec na_target iifname . @th,64,128 != @na6 drop" in text


def test_port_without_ipv4_has_no_ipv4_source():
    elements = R.port_elements(port(fixed_ips=("2001:db8::5",)), 1)
    assert elements["src4"] == [] and elements["src4h"] == []


def test_membership_single_addresses_hashed_cidrs_collapsed_and_chunked():
    cidrs = [f"10.1.{i}.0/24" for i in range(4)] + ["10.1.0.0/25"]
    addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(1200)] + ["2001:db8::1"] + cidrs
    cmds = R.inet_members("g", addresses)
    assert cmds.count("flush set inet naas_sg m4_g") == 1
    assert cmds.count("flush set inet naas_sg h4_g") == 1
    # CIDRs are collapsed (no overlapping intervals) into the interval set.
    assert "add element inet naas_sg m4_g { 10.1.0.0/22 }" in cmds
    hosts = [c for c in cmds if c.startswith("add element inet naas_sg h4_g")]
    assert len(hosts) == 3  # 1,200 addresses, 500 an element command
    assert "10.0.0.0," in hosts[0] and "/" not in "".join(hosts)
    assert "add element inet naas_sg h6_g { 2001:db8::1 }" in cmds
    with pytest.raises(exc.InvalidInput):
        R.inet_members("g", ["nope"])


def test_membership_change_adds_and_deletes_only_the_difference():
    old = R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24"])
    new = R.members_of(["10.0.0.6", "10.0.0.7", "10.9.0.0/24"], old)
    cmds = R.inet_member_changes("g", new, old)
    changes = [c for c in cmds if "element" in c]
    assert changes == ["delete element inet naas_sg h4_g { 10.0.0.5 }",
                       "add element inet naas_sg h4_g { 10.0.0.7 }"]
    # Parsed addresses are reused from the previous membership.
    assert new.parsed["10.0.0.6"] is old.parsed["10.0.0.6"]


def test_full_ruleset_replaces_only_its_own_tables():
    group = SecurityGroup("default", (rule(remote_group_id="default"),), ("10.0.0.5",))
    cmds = R.full_ruleset([(port(), 7)], [group], TrustedResponders(prefixes=("nsd",)))
    deleted = [c for c in cmds if c.startswith(("delete", "flush"))]
    assert all("naas_portsec" in c or "naas_sg" in c for c in deleted)
    assert not any("ruleset" in c for c in cmds)
    text = R.script(cmds)
    assert 'add element bridge naas_portsec from_mark { "tapabc" : 0x10000007 }' in text
    # A port in one group: its map elements jump straight to the group's chains.
    assert "add element inet naas_sg ingress { 0x20000007 : jump sg_default_in }" in text
    assert "add element inet naas_sg egress { 0x10000007 : jump sg_default_eg }" in text
    assert "tapabc" not in "".join(c for c in cmds if c.startswith("add chain inet"))
    assert 'iifname "nsd*" meta mark set meta mark or 0x80000000' in text


# -- PortSecurity with a recording runner ----------------------------------------------------


class Recorder:
    """Records transactions; answers listings with the ports the scripts left in from_mark."""

    def __init__(self):
        self.scripts: list[str] = []
        self.marks: dict[str, int] = {}

    def __call__(self, script, args):
        if args[:1] == ("-f",):
            self.scripts.append(script)
            for line in script.splitlines():
                if line.startswith("delete table bridge"):
                    self.marks.clear()
                m = re.match(r'add element bridge naas_portsec from_mark { "(\S+)" : (\S+) }',
                             line)
                if m:
                    self.marks[m[1]] = int(m[2], 16)
                m = re.match(r'delete element bridge naas_portsec from_mark { "(\S+)" }', line)
                if m:
                    self.marks.pop(m[1], None)
            return ""
        if args[:2] == ("-j", "list"):
            elem = [[dev, mark] for dev, mark in self.marks.items()]
            return json.dumps({"nftables": [{"map": {"name": "from_mark", "elem": elem}}]})
        return "listing of " + " ".join(sorted(self.marks))


def _default(members=("10.0.0.5",)):
    return SecurityGroup("default", (rule("egress"), rule(remote_group_id="default")), members)


def test_each_change_is_one_transaction_and_groups_are_rendered_once():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    ps.apply_port(port(), [_default()])
    ps.apply_port(port(device="tapdef", mac="fa:16:3e:00:00:02", fixed_ips=("10.0.0.6",)),
                  [_default()])
    assert len(rec.scripts) == 2
    assert "flush chain inet naas_sg sg_default_in" in rec.scripts[0]
    assert "sg_default_in" not in rec.scripts[1].replace("jump sg_default_in", "") \
        .replace("add chain inet naas_sg sg_default_in", "")
    ps.update_members("default", ["10.0.0.5", "10.0.0.6"])
    members = rec.scripts[-1]
    # Only the new member is added: no flush, no rule.
    assert "add element inet naas_sg h4_default { 10.0.0.6 }" in members
    assert "flush" not in members and "add rule" not in members
    ps.update_members("default", ["10.0.0.6"])
    assert "delete element inet naas_sg h4_default { 10.0.0.5 }" in rec.scripts[-1]
    ps.update_group_rules(SecurityGroup("default", _default().rules + (rule(protocol="tcp"),),
                                        ("10.0.0.6",)))
    assert "flush chain inet naas_sg sg_default_in" in rec.scripts[-1]
    assert "tapabc" not in rec.scripts[-1]  # a rule change touches no port chain
    assert "element inet naas_sg h4_default" not in rec.scripts[-1]  # nor the members
    assert "element inet naas_sg m4_default" not in rec.scripts[-1]


def test_reapplying_a_port_changes_only_the_elements_that_differ():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    ps.apply_port(port(), [_default()])
    ps.apply_port(port(allowed_address_pairs=(AddressPair("10.9.0.0/24"),)), [_default()])
    lines = rec.scripts[-1].splitlines()
    assert [x for x in lines if x.startswith("delete element")] == []
    added = [x for x in lines if x.startswith("add element bridge")]
    assert added == [f'add element bridge naas_portsec src4 {{ "tapabc" . {MAC} . 10.9.0.0/24 }}']
    ps.apply_port(port(), [_default()])
    assert f'delete element bridge naas_portsec src4 {{ "tapabc" . {MAC} . 10.9.0.0/24 }}' \
        in rec.scripts[-1]


def test_invalid_input_programs_nothing():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    with pytest.raises(exc.InvalidSecurityGroupRule):
        ps.apply_port(port(), [SecurityGroup("default", (rule(protocol="tcp",
                                                              port_range_min=9,
                                                              port_range_max=1),))])
    with pytest.raises(exc.InvalidAllowedAddressPair):
        ps.apply_port(port(allowed_address_pairs=(AddressPair("10.0.0.1/8"),)))
    assert rec.scripts == []


def test_remove_is_idempotent_and_port_security_off_removes():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    assert ps.remove_port("tapabc") is False
    ps.apply_port(port(), [_default()])
    ps.apply_port(port(security_groups=(), port_security_enabled=False))
    assert 'delete element bridge naas_portsec ports { "tapabc" }' in rec.scripts[-1]
    index = rec.marks.get("tapabc") or 0
    assert "delete element inet naas_sg ingress" in rec.scripts[-1]
    assert "delete element inet naas_sg egress" in rec.scripts[-1]
    assert index == 0  # from_mark element gone with it
    # It was the host's last filtered port: the tables go in the same transaction.
    assert rec.scripts[-1].endswith("delete table bridge naas_portsec\n"
                                    "add table inet naas_sg\ndelete table inet naas_sg\n")
    assert ps.ports() == {}
    assert ps.remove_port("tapabc") is False


def test_the_last_port_takes_the_tables_with_it_and_the_next_makes_them_again():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    ps.apply_port(port(), [_default()])
    ps.apply_port(port(device="tapdef", mac="fa:16:3e:00:00:02", fixed_ips=("10.0.0.6",)),
                  [_default()])
    assert ps.remove_port("tapabc") is True
    assert "delete table" not in rec.scripts[-1]  # another port is still filtered
    assert ps.remove_port("tapdef") is True
    last = rec.scripts[-1]
    assert 'delete element bridge naas_portsec ports { "tapdef" }' in last
    assert "delete table bridge naas_portsec" in last and "delete table inet naas_sg" in last
    assert len(rec.scripts) == 4  # one transaction per change, the drop included
    ps.apply_port(port(), [_default()])
    again = rec.scripts[-1]
    assert "add chain bridge naas_portsec" in again  # the skeleton comes back
    assert "flush chain inet naas_sg sg_default_in" in again  # and the group's chains


def test_a_sync_with_no_filtered_port_makes_no_tables_and_drops_leftovers():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    assert not ps.sync(DesiredPortSecurity((), (_default(),))).changed
    assert not ps.sync(DesiredPortSecurity((port(port_security_enabled=False,
                                                 security_groups=()),), ())).changed
    assert rec.scripts == []
    # Tables an earlier process left behind (listed by the kernel) are deleted.
    listed = PortSecurity(runner=lambda script, args: (
        "table bridge naas_portsec\ntable inet filter\n" if args == ("list", "tables")
        else rec(script, args)))
    assert listed.sync(DesiredPortSecurity()).rebuilt
    assert rec.scripts == [R.script(R.drop_tables())]


def test_ports_in_several_groups_share_one_chain_and_group_changes_repoint_the_map():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    web, db = SecurityGroup("web", (rule(),), ()), SecurityGroup("db", (rule(),), ())
    both = R.groups_chain(("web", "db"), "ingress")
    assert both == R.groups_chain(("db", "web"), "ingress") and both.startswith("sgs_")
    ps.apply_port(port(security_groups=("web", "db")), [web, db])
    first = rec.scripts[-1]
    assert f"add rule inet naas_sg {both} jump sg_db_in" in first
    assert f"add rule inet naas_sg {both} jump sg_web_in" in first
    assert "ingress { 0x2" in first and f": jump {both} }}" in first
    ps.apply_port(port(device="tapdef", mac="fa:16:3e:00:00:02", fixed_ips=("10.0.0.6",),
                       security_groups=("db", "web")), [web, db])
    assert f": jump {both} }}" in rec.scripts[-1]  # the same chain, no new one
    # Leaving a group: the element is deleted and added again with the new target.
    ps.apply_port(port(security_groups=("web",)), [web])
    lines = rec.scripts[-1].splitlines()
    deleted = [x for x in lines if x.startswith("delete element inet naas_sg ingress")]
    added = [x for x in lines if x.startswith("add element inet naas_sg ingress")]
    assert len(deleted) == 1 and added == [
        added[0].split(":")[0] + ": jump sg_web_in }"]
    assert lines.index(deleted[0]) < lines.index(added[0])
    # No group at all: no element (the base chain drops what no group accepts).
    ps.apply_port(port(security_groups=()), [])
    assert "add element inet naas_sg ingress" not in rec.scripts[-1]
    assert "delete element inet naas_sg ingress" in rec.scripts[-1]


def test_sync_rebuilds_then_stays_quiet():
    rec = Recorder()
    ps = PortSecurity(runner=rec)
    desired = DesiredPortSecurity((port(),), (_default(),))
    assert ps.sync(desired).rebuilt
    assert rec.scripts[-1].startswith("add table bridge naas_portsec\n"
                                      "delete table bridge naas_portsec\n")
    assert not ps.sync(desired).changed
    assert len(rec.scripts) == 1
    # A port that is gone is dropped by the next rebuild; a new process recovers marks.
    report = ps.sync(DesiredPortSecurity((), (_default(),)))
    assert report.removed == ["tapabc"] and report.rebuilt
    ps.apply_port(port(), [_default()])
    again = PortSecurity(runner=rec)
    assert again.remove_port("tapabc") is True


JUNK = [None, "", "x", 0, -1, 1.5, True, [], {}, ["x"], {"a": 1}, object(), b"bytes", 2**70,
        "a" * 300, [None], ("10.0.0.1",), "10.0.0.0/33", "fa:16:3e:00:00:01"]


@pytest.mark.parametrize("field_name", ["device", "mac", "fixed_ips", "allowed_address_pairs",
                                        "port_security_enabled", "security_groups"])
def test_junk_in_any_port_field_is_a_typed_error_or_accepted(field_name):
    for junk in JUNK:
        try:
            R.check_port(port(**{field_name: junk}))
        except exc.NaasError:
            pass


@pytest.mark.parametrize("field_name", ["direction", "ethertype", "protocol", "port_range_min",
                                        "port_range_max", "remote_ip_prefix", "remote_group_id"])
def test_junk_in_any_rule_field_is_a_typed_error_or_accepted(field_name):
    for junk in JUNK:
        values = {"direction": "ingress", field_name: junk}
        try:
            group = R.check_group(SecurityGroup("g", (SecurityGroupRule(**values),)))
        except exc.NaasError:
            continue
        R.inet_group(group)  # what validates also renders


def test_junk_members_are_a_typed_error():
    for junk in JUNK:
        try:
            R.check_group(SecurityGroup("g", (), junk))
        except exc.NaasError:
            pass


def test_a_membership_that_only_grows_parses_only_the_new_addresses(monkeypatch):
    known = R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24"])
    parsed = []
    real = R._member_network
    monkeypatch.setattr(R, "_member_network", lambda a: parsed.append(a) or real(a))
    grown = R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24", "10.0.0.7", "fd00::7"], known)
    assert sorted(parsed) == ["10.0.0.7", "fd00::7"]
    assert grown == R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24", "10.0.0.7",
                                  "fd00::7"])
    assert R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24"], known) == known
    with pytest.raises(exc.InvalidInput):
        R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24", ["junk"]], known)
    with pytest.raises(exc.InvalidInput):
        R.members_of(["10.0.0.5", "10.0.0.6", "10.9.0.0/24", "10.0.0.300"], known)


@pytest.mark.parametrize("fixed_ips", [
    (), ("10.0.0.5",), ("fd00::5",), ("10.0.0.5", "fd00::5"), ("fd00::5", "10.0.0.5"),
    ("10.0.0.4", "10.0.0.5"), ("10.0.0.5", "10.0.0.5"), ("fe80::f816:3eff:fe00:2",),
    ("fe80::f816:3eff:fe00:0",), ("2001:db8::1", "fd00::1", "10.0.0.1")])
def test_port_elements_of_usual_ports_match_the_general_rendering(monkeypatch, fixed_ips):
    """The usual port (no pairs, one address per family) is rendered without collapsing:
    the same elements as the general path, which a port with a pair takes."""
    spec = port(mac="FA:16:3E:00:00:01", fixed_ips=fixed_ips)
    fast = R.port_elements(spec, 7)
    monkeypatch.setattr(R, "_single_addresses", lambda p: None)
    assert fast == R.port_elements(spec, 7)
