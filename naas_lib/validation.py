"""Pure input validation: no I/O, each failure a typed error naming the field.

The three databases disagree on what they store: PostgreSQL refuses NUL,
every driver refuses a lone surrogate (it cannot be encoded as UTF-8),
MariaDB truncates or refuses a long text where SQLite keeps it, and
``float('nan')`` serialises to JSON that only Python reads back. So what any
backend would refuse, or store differently, is refused here, once, for all
of them, on reads (ids, filters, markers) as on writes.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import netaddr

from naas_lib import exceptions as exc

_TRUE = {True, "true", "True", "1"}
_FALSE = {False, "false", "False", "0"}
# Six octets (':' or '-'), Cisco's three dotted words, or twelve bare hex digits.
# netaddr alone also takes three 16-bit words ("fa:16:3e"), which silently
# turns a truncated MAC into a different, valid-looking one.
_MAC_FORMS = re.compile(
    r"(?:[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}"
    r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12})", re.IGNORECASE)
# Python's int() also takes "１５", " 7" and "1_000"; the databases and other
# clients would not read those as the same number.
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")

# Largest JSON document (encoded, in bytes) of one field such as
# binding_profile; MariaDB's TEXT holds 65,535 bytes.
JSON_MAX_BYTES = 16384
JSON_MAX_DEPTH = 16
# Longest id, filter value or marker looked up; no stored value is longer.
LOOKUP_MAX_LEN = 255


def _text_problem(value: str) -> str | None:
    """Why no database stores ``value`` the same way, or None when all do."""
    if "\x00" in value:  # PostgreSQL cannot store it
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def check_known(resource: str, attrs: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse attributes the resource does not have."""
    allowed = set(allowed)
    for name in attrs:
        if name not in allowed:
            raise exc.UnknownField(field=name, resource=resource)


def uuid_str(field: str, value: Any) -> str:
    """A UUID in its canonical lower-case hyphenated form."""
    if not isinstance(value, str) or not value.isascii():  # int() reads fullwidth digits
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not a UUID") from None


def boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)) and value in _TRUE:
        return True
    if isinstance(value, (str, int)) and value in _FALSE:
        return False
    raise exc.InvalidInput(field=field, reason=f"{value!r} is not a boolean")


def string(field: str, value: Any, max_len: int = 255, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not a string")
    if len(value) > max_len:
        raise exc.InvalidInput(field=field, reason=f"longer than {max_len} characters")
    problem = _text_problem(value)
    if problem:
        raise exc.InvalidInput(field=field, reason=problem)
    return value


def lookup(field: str, value: Any) -> str:
    """A string a read compares with stored values: an id, a marker, a filter value.

    Refused as on writes (NUL, lone surrogates, too long) so that a lookup is
    a typed error or an answer on every backend, never a database error.
    """
    if not isinstance(value, str):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not a string")
    return string(field, value, max_len=LOOKUP_MAX_LEN)  # type: ignore[return-value]


def integer(
    field: str, value: Any, minimum: int | None = None, maximum: int | None = None
) -> int:
    if isinstance(value, bool):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not an integer")
    if isinstance(value, str):
        if not _ASCII_INTEGER.fullmatch(value):
            raise exc.InvalidInput(field=field, reason=f"{value!r} is not an integer")
        value = int(value, 10)
    if not isinstance(value, int):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not an integer")
    if minimum is not None and value < minimum:
        raise exc.InvalidInput(field=field, reason=f"{value} is below {minimum}")
    if maximum is not None and value > maximum:
        raise exc.InvalidInput(field=field, reason=f"{value} is above {maximum}")
    return value


def _json_problem(value: Any, depth: int) -> str | None:
    """Why ``value`` is not strict JSON every backend stores alike, or None."""
    if depth > JSON_MAX_DEPTH:
        return f"nested deeper than {JSON_MAX_DEPTH} levels"
    if value is None or isinstance(value, (bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number"
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"key {key!r} is not a string"
            problem = _text_problem(key) or _json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    return f"{type(value).__name__} is not a JSON type"


def json_dict(field: str, value: Any, max_bytes: int = JSON_MAX_BYTES) -> dict[str, Any]:
    """A mapping of strict JSON (binding profile, VIF details), at most ``max_bytes``.

    Strict: string keys, no NaN or Infinity, no NUL or lone surrogate in any
    string; what it stores reads back equal on every backend.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise exc.InvalidInput(field=field, reason="must be a dictionary")
    problem = _json_problem(value, 1)
    if problem:
        raise exc.InvalidInput(field=field, reason=f"not strict JSON: {problem}")
    size = len(json.dumps(dict(value), allow_nan=False).encode())
    if size > max_bytes:
        raise exc.InvalidInput(field=field,
                               reason=f"{size} bytes of JSON, more than {max_bytes}")
    return dict(value)


def ip_address(field: str, value: Any, version: int | None = None) -> netaddr.IPAddress:
    """A single IP address written in its usual notation (no integers, no masks)."""
    if not isinstance(value, str) or "/" in value or not value:
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not an IP address")
    try:
        # INET_PTON refuses legacy shorthand such as '10.1' or '010.0.0.1'.
        addr = netaddr.IPAddress(value, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not an IP address") from None
    if version is not None and addr.version != version:
        raise exc.InvalidInput(field=field, reason=f"{value} is not an IPv{version} address")
    return addr


def cidr(value: Any, version: int | None = None) -> netaddr.IPNetwork:
    """A subnet CIDR whose address is the network address (10.0.0.0/24, not 10.0.0.1/24)."""
    if not isinstance(value, str) or not value.isascii():  # '/２4' must not read as /24
        raise exc.InvalidCIDR(cidr=ascii(value), reason="expected ADDRESS/PREFIXLEN in ASCII")
    if "/" not in value:
        raise exc.InvalidCIDR(cidr=value, reason="expected ADDRESS/PREFIXLEN")
    addr_part, _, prefix_part = value.partition("/")
    try:
        ip_address("cidr", addr_part)
        net = netaddr.IPNetwork(value)
    except (exc.InvalidInput, netaddr.AddrFormatError, ValueError, TypeError):
        raise exc.InvalidCIDR(cidr=value, reason="not a valid network") from None
    if not (prefix_part.isascii() and prefix_part.isdigit()):
        raise exc.InvalidCIDR(cidr=value, reason="prefix length must be a number")
    if net.ip != net.network:
        raise exc.InvalidCIDR(cidr=value, reason=f"host bits are set; did you mean {net.cidr}?")
    if version is not None and net.version != version:
        raise exc.InvalidCIDR(cidr=value, reason=f"not an IPv{version} network")
    max_prefix = 30 if net.version == 4 else 126
    if net.prefixlen > max_prefix:
        raise exc.InvalidCIDR(cidr=value, reason=f"prefix longer than /{max_prefix} has no room")
    if net.prefixlen == 0:
        raise exc.InvalidCIDR(cidr=value, reason="a /0 is not a subnet")
    return net


def mac_address(field: str, value: Any) -> str:
    """A unicast, non-zero MAC in lower-case colon notation."""
    if not isinstance(value, str) or not _MAC_FORMS.fullmatch(value):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not a MAC address")
    try:
        mac = netaddr.EUI(value, version=48, dialect=netaddr.mac_unix_expanded)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not a MAC address") from None
    if int(mac) == 0:
        raise exc.InvalidInput(field=field, reason="the all-zero MAC is not usable")
    if mac.words[0] & 0x01:
        raise exc.InvalidInput(field=field, reason=f"{value} is a multicast address")
    return str(mac)


def name_list(field: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise exc.InvalidInput(field=field, reason="must be a list")
    return list(value)


def choice(field: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise exc.InvalidInput(field=field, reason=f"{value!r} is not one of {', '.join(choices)}")
    return value
