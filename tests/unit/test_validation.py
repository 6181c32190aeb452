"""Pure input validation: each malformed value is refused with a typed error."""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc
from naas_lib import validation


def test_check_known_names_the_unknown_field():
    validation.check_known("port", {"name": "x"}, ("name", "mac_address"))
    with pytest.raises(exc.UnknownField) as info:
        validation.check_known("port", {"name": "x", "colour": "red"}, ("name",))
    assert "colour" in str(info.value)
    assert info.value.kind == "bad_request"


def test_uuid_is_canonicalised():
    assert validation.uuid_str("id", "2B4F1C6E-3E9A-4C71-9C4B-1D2E3F4A5B6C") == \
        "2b4f1c6e-3e9a-4c71-9c4b-1d2e3f4a5b6c"


@pytest.mark.parametrize("value", ["not-a-uuid", "", 12, None, "2b4f1c6e-3e9a-4c71-9c4b"])
def test_malformed_uuid(value):
    with pytest.raises(exc.InvalidInput):
        validation.uuid_str("id", value)


@pytest.mark.parametrize("value,expected", [
    (True, True), (False, False), ("true", True), ("False", False), (1, True), (0, False),
])
def test_boolean_accepts_usual_spellings(value, expected):
    assert validation.boolean("admin_state_up", value) is expected


@pytest.mark.parametrize("value", ["yes", 2, None, [], 1.0])
def test_boolean_refuses_others(value):
    with pytest.raises(exc.InvalidInput):
        validation.boolean("admin_state_up", value)


def test_string_length_and_type():
    assert validation.string("name", "x" * 255) == "x" * 255
    with pytest.raises(exc.InvalidInput):
        validation.string("name", "x" * 256)
    with pytest.raises(exc.InvalidInput):
        validation.string("name", 5)
    assert validation.string("name", None, allow_none=True) is None
    with pytest.raises(exc.InvalidInput, match="NUL"):
        validation.string("name", "a\x00b")  # PostgreSQL cannot store it
    with pytest.raises(exc.InvalidInput):
        validation.string("name", None)


def test_integer_bounds_and_types():
    assert validation.integer("mtu", "1400", 68, 1500) == 1400
    assert validation.integer("mtu", 68, 68, 1500) == 68
    for bad in (True, "14x", 1.5, None, 67, 1501):
        with pytest.raises(exc.InvalidInput):
            validation.integer("mtu", bad, 68, 1500)


def test_json_dict():
    assert validation.json_dict("binding_profile", None) == {}
    assert validation.json_dict("binding_profile", {"a": [1, 2]}) == {"a": [1, 2]}
    with pytest.raises(exc.InvalidInput):
        validation.json_dict("binding_profile", ["a"])
    with pytest.raises(exc.InvalidInput):
        validation.json_dict("binding_profile", {"a": object()})


@pytest.mark.parametrize("value,version", [("10.0.0.1", 4), ("2001:db8::1", 6),
                                           ("::ffff:10.0.0.1", 6)])
def test_ip_address_valid(value, version):
    assert validation.ip_address("ip", value).version == version


@pytest.mark.parametrize("value", ["10.1", "010.0.0.1", "10.0.0.256", "10.0.0.1/24", "",
                                   "host", 167772161, None, "2001:db8::g"])
def test_ip_address_malformed(value):
    with pytest.raises(exc.InvalidInput):
        validation.ip_address("ip", value)


def test_ip_address_wrong_version():
    with pytest.raises(exc.InvalidInput, match="IPv6"):
        validation.ip_address("ip", "10.0.0.1", version=6)


@pytest.mark.parametrize("value,version,size", [
    ("10.0.0.0/24", 4, 256), ("10.0.0.0/8", 4, 2**24), ("2001:db8::/64", 6, 2**64),
    ("192.168.1.0/30", 4, 4),
])
def test_cidr_valid(value, version, size):
    net = validation.cidr(value)
    assert net.version == version
    assert net.size == size


@pytest.mark.parametrize("value,reason", [
    ("10.0.0.1/24", "host bits"),
    ("10.0.0.0", "ADDRESS/PREFIXLEN"),
    ("10.0.0.0/33", "not a valid network"),
    ("10.0.0.0/x", "10.0.0.0/x"),
    ("10.0/16", "not a valid network"),
    ("10.0.0.0/31", "no room"),
    ("2001:db8::/127", "no room"),
    ("0.0.0.0/0", "/0"),
    ("garbage/24", "not a valid network"),
    (None, "ADDRESS/PREFIXLEN"),
])
def test_cidr_malformed(value, reason):
    with pytest.raises(exc.InvalidCIDR, match=reason):
        validation.cidr(value)


def test_cidr_version_mismatch():
    with pytest.raises(exc.InvalidCIDR, match="IPv6"):
        validation.cidr("10.0.0.0/24", version=6)


@pytest.mark.parametrize("value,expected", [
    ("FA:16:3E:01:02:03", "fa:16:3e:01:02:03"),
    ("fa-16-3e-01-02-03", "fa:16:3e:01:02:03"),
    ("02:00:00:00:00:01", "02:00:00:00:00:01"),
    ("fa16.3e01.0203", "fa:16:3e:01:02:03"),
    ("fa163e010203", "fa:16:3e:01:02:03"),
])
def test_mac_normalised(value, expected):
    assert validation.mac_address("mac_address", value) == expected


@pytest.mark.parametrize("value,reason", [
    ("00:00:00:00:00:00", "all-zero"),
    ("01:00:5e:00:00:01", "multicast"),
    ("ff:ff:ff:ff:ff:ff", "multicast"),
    ("fa:16:3e:01:02", "not a MAC"),
    ("fa:16:3e", "not a MAC"),  # three 16-bit words: a truncated MAC, not 00:fa:00:16:00:3e
    ("fa:16-3e:01:02:03", "not a MAC"),
    ("fa:16:3e:01:02:03:04", "not a MAC"),
    ("zz:16:3e:01:02:03", "not a MAC"),
    (42, "not a MAC"),
])
def test_mac_refused(value, reason):
    with pytest.raises(exc.InvalidInput, match=reason):
        validation.mac_address("mac_address", value)


def test_choice_lists_the_choices():
    assert validation.choice("network_type", "vxlan", ("vxlan", "flat")) == "vxlan"
    with pytest.raises(exc.InvalidInput, match="vxlan, flat"):
        validation.choice("network_type", "gre", ("vxlan", "flat"))


def test_name_list():
    assert validation.name_list("dns_nameservers", None) == []
    assert validation.name_list("dns_nameservers", ("a",)) == ["a"]
    with pytest.raises(exc.InvalidInput):
        validation.name_list("dns_nameservers", "8.8.8.8")


def test_exception_message_template_and_kind():
    e = exc.NetworkNotFound(net_id="abc")
    assert e.message == "Network abc could not be found."
    assert str(e) == e.message
    assert e.kind == "not_found"
    assert isinstance(e, exc.NaasError)
    assert exc.NetworkInUse(net_id="n").kind == "conflict"
    assert exc.NotAuthorized(action="x").kind == "forbidden"
