"""Raw nf_tables element batches: which scripts are translated, and their encodings (no root).

The byte-for-byte agreement with nft is checked against the kernel in
tests/functional/test_portsec_raw_elements.py.
"""

from __future__ import annotations

import socket
import struct

from naas_lib.drivers.linuxbridge import nft_elements as NE
from naas_lib.drivers.linuxbridge import portsec_rules as R

GROUP = "3b99a4e1-c45e-470b-984d-f4849ae70616"


def _port() -> R.PortSpec:
    return R.PortSpec(device="tape286aa74-c2", mac="fa:16:3e:50:31:ad",
                      fixed_ips=("10.90.0.3", "2001:db8::5"), allowed_address_pairs=(),
                      port_security_enabled=True, security_groups=(GROUP,))


def _plug_script() -> str:
    port = _port()
    return R.script(R.bridge_elements(R.port_elements(port, 0x292E), {})
                    + [f"add element inet naas_sg h4_{GROUP} {{ 10.90.0.3 }}"]
                    + R.inet_port(port, 0x292E, (None, None), [GROUP]))


def _attrs(data: bytes) -> list[tuple[int, bytes]]:
    out, off = [], 0
    while off < len(data):
        length, kind = struct.unpack_from("HH", data, off)
        out.append((kind & 0x7FFF, data[off + 4:off + length]))
        off += (length + 3) & ~3
    return out


def _keys(attrs: bytes) -> tuple[str, list[bytes], list[list[tuple[int, bytes]]]]:
    """(set name, element keys, element data attributes) of one message's attributes."""
    top = dict(_attrs(attrs))
    keys, datas = [], []
    for _kind, element in _attrs(top[NE.NFTA_SET_ELEM_LIST_ELEMENTS]):
        parts = dict(_attrs(element))
        keys.append(dict(_attrs(parts[NE.NFTA_SET_ELEM_KEY]))[NE.NFTA_DATA_VALUE])
        datas.append(_attrs(parts.get(NE.NFTA_SET_ELEM_DATA, b"")))
    return top[NE.NFTA_SET_ELEM_LIST_SET].rstrip(b"\0").decode(), keys, datas


def test_a_plugs_element_script_becomes_one_message_per_command():
    script = _plug_script()
    messages = NE.translate(script)
    assert messages is not None
    assert len(messages) == len(script.splitlines())
    assert all(m[0] == NE.NFT_MSG_NEWSETELEM for m in messages)
    assert [m[1] for m in messages[:7]] == [NE.NFPROTO_BRIDGE] * 7
    assert [m[1] for m in messages[7:]] == [NE.NFPROTO_INET] * 3


def test_keys_are_padded_as_nft_pads_concatenations():
    by_set = {_keys(a)[0]: _keys(a) for _t, _f, a in NE.translate(_plug_script())}
    name = b"tape286aa74-c2".ljust(16, b"\0")
    mac = bytes.fromhex("fa163e5031ad") + b"\0\0"
    assert by_set["ports"][1] == [name]
    assert by_set["macs"][1] == [name + mac]
    assert by_set["src4h"][1] == [name + mac + socket.inet_aton("10.90.0.3")]
    assert by_set["src6h"][1][0] == name + mac + socket.inet_pton(socket.AF_INET6, "2001:db8::5")
    assert by_set["na6h"][1][0] == name + socket.inet_pton(socket.AF_INET6, "2001:db8::5")
    assert by_set[f"h4_{GROUP}"][1] == [socket.inet_aton("10.90.0.3")]
    # Marks are host-endian, as nft's mark type; a map element carries its value.
    assert by_set["from_mark"][2] == [[(NE.NFTA_DATA_VALUE, struct.pack("=I", 0x1000292E))]]
    _name, keys, datas = by_set["egress"]
    assert keys == [struct.pack("=I", 0x1000292E)]
    verdict = dict(_attrs(datas[0][0][1]))
    assert struct.unpack(">i", verdict[NE.NFTA_VERDICT_CODE])[0] == NE.NFT_JUMP
    assert verdict[NE.NFTA_VERDICT_CHAIN] == f"sg_{GROUP}_eg\0".encode()


def test_deletions_carry_keys_only():
    port = _port()
    script = R.script(R.bridge_elements({}, R.port_elements(port, 0x292E))
                      + R.inet_remove(0x292E, R.port_verdicts(port)))
    messages = NE.translate(script)
    assert messages is not None
    assert all(m[0] == NE.NFT_MSG_DELSETELEM for m in messages)
    for _t, _f, attrs in messages:
        assert all(data == [] for data in _keys(attrs)[2])


def test_anything_but_hash_set_elements_goes_to_libnftables():
    element = 'add element bridge naas_portsec ports { "tapx" }'
    for other in (
        R.script(R.bridge_skeleton(R.TrustedResponders()) + R.inet_skeleton()),
        R.script(R.inet_group(R.SecurityGroup(GROUP, (), ("10.0.0.1",)))),
        # interval sets, ranges and wildcards
        'add element bridge naas_portsec src4 { "tapx" . fa:16:3e:00:00:01 . 10.0.0.0/24 }\n',
        f"add element inet naas_sg m4_{GROUP} {{ 10.0.0.0/24 }}\n",
        'add element bridge naas_portsec na6h { "tapx" . 0x1-0x2 }\n',
        'add element bridge naas_portsec ports { "tap*" }\n',
        "add element inet naas_sg egress { 0x10000001 : accept }\n",
        'add element bridge othertable ports { "tapx" }\n',
        element + "\nflush set inet naas_sg h4_x\n",
        "",
    ):
        assert NE.translate(other) is None, other
    assert NE.translate(element + "\n") is not None
