"""Element-only port-security transactions as raw nf_tables netlink, without libnftables.

Plugging or unplugging a port whose groups are already programmed changes
only elements of the port-security sets and maps (its name, marks, MACs and
addresses; its group's member addresses; its verdict map entries). Through
libnftables each such transaction pays a fixed cost of some 150 us (parsing,
and a dump of every set of the namespace into its cache to learn the sets'
types); most of a port's extra plug cost. This module encodes those element
commands itself, knowing the types of the sets :mod:`.portsec_rules` makes,
and sends them as one nfnetlink batch (one atomic transaction, as ``nft -f``
would): a few system calls.

:func:`translate` takes the script :mod:`.portsec_rules` rendered and returns
the batch's messages, or None as soon as a line is anything else (a chain, a
rule, an interval set, a flush...); the caller then runs the script through
libnftables as before. The encodings are those nft uses: each part of a
concatenated key padded to 4 bytes, interface names to 16, marks in host
byte order, addresses and raw payload in network order.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
import threading
from collections.abc import Callable

from naas_lib.drivers.linuxbridge import netlink as nl
from naas_lib.drivers.linuxbridge import portsec_rules as R

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM = 12, 14
NFPROTO_INET, NFPROTO_BRIDGE = 1, 7
NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
NFTA_LIST_ELEM = 1
NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_DATA = 1, 2
NFTA_DATA_VALUE, NFTA_DATA_VERDICT = 1, 2
NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN = 1, 2
NFT_JUMP = -3
NLA_F_NESTED = 0x8000
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE = 0x1, 0x4, 0x400
NLMSG_ERROR = 2
IFNAMSIZ = 16
#: Seconds to wait for the kernel's answer before giving the socket up.
_TIMEOUT = 10.0

_HDR = struct.Struct("IHHII")
_NFGEN = struct.Struct("BBH")  # family, version, resource id (big-endian on the wire)

#: Key parts and data kind of each set the port-security tables hold elements in,
#: by (family, table, set); group sets by their name's prefix. Interval sets are
#: not here: their elements are ranges, left to libnftables.
_BRIDGE_SETS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "ports": (("ifname",), None),
    "from_mark": (("ifname",), "mark"),
    "to_mark": (("ifname",), "mark"),
    "macs": (("ifname", "ether"), None),
    "src4h": (("ifname", "ether", "ipv4"), None),
    "src6h": (("ifname", "ether", "ipv6"), None),
    "na6h": (("ifname", "u128"), None),
}
_INET_MAPS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "egress": (("mark",), "verdict"),
    "ingress": (("mark",), "verdict"),
}
_LINE = re.compile(r"(add|delete) element (bridge|inet) (\S+) (\S+) \{ (.*) \}")


class Unsupported(ValueError):
    """A line this module does not encode (the script goes to libnftables)."""


_RTA = struct.Struct("HH")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


def _attr(kind: int, payload: bytes) -> bytes:
    size = len(payload)
    return _RTA.pack(4 + size, kind) + payload + _PAD[size & 3]


def _nested(kind: int, payload: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, payload)


def _pton(family: int, text: str) -> bytes:
    """An address in network order (OSError, a ValueError here, for anything else)."""
    try:
        return socket.inet_pton(family, text)
    except OSError as e:
        raise Unsupported(text) from e


def _part(kind: str, text: str) -> bytes:
    """One part of a key, padded as nft pads it in a concatenation."""
    if kind == "ifname":
        if len(text) < 2 or text[0] != '"' or text[-1] != '"' or "*" in text:
            raise Unsupported(text)
        name = text[1:-1].encode()
        if not 0 < len(name) < IFNAMSIZ:
            raise Unsupported(text)
        return name.ljust(IFNAMSIZ, b"\0")
    if kind == "ether":
        raw = bytes.fromhex(text.replace(":", ""))
        if len(raw) != 6:
            raise Unsupported(text)
        return raw + b"\0\0"
    if kind == "ipv4":
        return _pton(socket.AF_INET, text)
    if kind == "ipv6":
        return _pton(socket.AF_INET6, text)
    if kind == "u128":
        if not text.startswith("0x") or "-" in text:
            raise Unsupported(text)
        return int(text, 16).to_bytes(16, "big")
    if kind == "mark":
        return struct.pack("=I", int(text, 0))
    raise Unsupported(kind)


def _element(parts: tuple[str, ...], data: str | None, text: str, delete: bool) -> bytes:
    key_text, sep, value = text.partition(" : ")
    words = key_text.split(" . ")
    if len(words) != len(parts) or (data is not None and not delete and not sep):
        raise Unsupported(text)
    try:
        key = b"".join(_part(kind, word) for kind, word in zip(parts, words, strict=True))
    except ValueError as e:  # addresses or numbers nft would have to read itself
        raise Unsupported(text) from e
    body = _nested(NFTA_SET_ELEM_KEY, _attr(NFTA_DATA_VALUE, key))
    if delete or data is None:
        return _nested(NFTA_LIST_ELEM, body)
    if data == "mark":
        try:
            body += _nested(NFTA_SET_ELEM_DATA, _attr(NFTA_DATA_VALUE, _part("mark", value)))
        except ValueError as e:
            raise Unsupported(text) from e
    else:
        verb, _sp, chain = value.partition(" ")
        if verb != "jump" or not chain or " " in chain:
            raise Unsupported(text)
        verdict = (_attr(NFTA_VERDICT_CODE, struct.pack(">i", NFT_JUMP))
                   + _attr(NFTA_VERDICT_CHAIN, chain.encode() + b"\0"))
        body += _nested(NFTA_SET_ELEM_DATA, _nested(NFTA_DATA_VERDICT, verdict))
    return _nested(NFTA_LIST_ELEM, body)


def _layout(family: str, table: str, name: str) -> tuple[tuple[str, ...], str | None]:
    if family == "bridge" and table == R.BRIDGE_TABLE and name in _BRIDGE_SETS:
        return _BRIDGE_SETS[name]
    if family == "inet" and table == R.INET_TABLE:
        if name in _INET_MAPS:
            return _INET_MAPS[name]
        if name.startswith("h4_"):
            return ("ipv4",), None
        if name.startswith("h6_"):
            return ("ipv6",), None
    raise Unsupported(name)


def translate(script: str) -> list[tuple[int, int, bytes]] | None:
    """The script's commands as (message type, family, attributes), or None when a
    line is not an element change of a known hash set or map."""
    messages = []
    try:
        for line in script.splitlines():
            if not line.strip():
                continue
            match = _LINE.fullmatch(line.strip())
            if match is None:
                return None
            verb, family, table, name, items = match.groups()
            parts, data = _layout(family, table, name)
            delete = verb == "delete"
            elements = b"".join(_element(parts, data, item, delete)
                                for item in items.split(", "))
            attrs = (_attr(NFTA_SET_ELEM_LIST_TABLE, table.encode() + b"\0")
                     + _attr(NFTA_SET_ELEM_LIST_SET, name.encode() + b"\0")
                     + _nested(NFTA_SET_ELEM_LIST_ELEMENTS, elements))
            messages.append((NFT_MSG_DELSETELEM if delete else NFT_MSG_NEWSETELEM,
                             NFPROTO_BRIDGE if family == "bridge" else NFPROTO_INET, attrs))
    except Unsupported:
        return None
    return messages or None


class ElementBatches:
    """Sends translated element changes as one nf_tables transaction, on a socket of its own.

    The socket is opened in ``netns`` on first use. :meth:`send` returns 0 when
    the kernel applied the whole batch, else the first error's errno (the
    kernel then applied none of it).
    """

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self._sock: socket.socket | None = None
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            with nl.entered(self.netns):
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            sock.bind((0, 0))
            sock.settimeout(_TIMEOUT)
            self._sock = sock
        return self._sock

    def _message(self, mtype: int, flags: int, family: int, res_id: int,
                 attrs: bytes) -> tuple[int, bytes]:
        self._seq = (self._seq + 1) & 0x7FFFFFFF
        body = _NFGEN.pack(family, 0, socket.htons(res_id)) + attrs
        return self._seq, _HDR.pack(_HDR.size + len(body), mtype, flags, self._seq, 0) + body

    def send(self, messages: list[tuple[int, int, bytes]],
             before: Callable[[], None] | None = None) -> int:
        """Apply ``messages`` (from :func:`translate`) atomically; 0 or an errno."""
        with self._lock:
            sock = self._socket()
            begin, data = self._message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0,
                                        NFNL_SUBSYS_NFTABLES, b"")
            seqs = []
            for mtype, family, attrs in messages:
                seq, msg = self._message((NFNL_SUBSYS_NFTABLES << 8) | mtype,
                                         NLM_F_REQUEST | NLM_F_ACK
                                         | (NLM_F_CREATE if mtype == NFT_MSG_NEWSETELEM else 0),
                                         family, 0, attrs)
                seqs.append(seq)
                data += msg
            _seq, end = self._message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0,
                                      NFNL_SUBSYS_NFTABLES, b"")
            if before is not None:
                before()
            try:
                sock.send(data + end)
                return self._acks(sock, begin, set(seqs))
            except OSError as e:  # a timeout included: this socket's state is unknown
                sock.close()
                self._sock = None
                return e.errno or errno.EIO

    @staticmethod
    def _acks(sock: socket.socket, begin: int, seqs: set[int]) -> int:
        """Read one acknowledgement per request; the first error's errno, or 0.

        An error about the batch as a whole (its commit failed, or the batch was
        refused) comes with the sequence number of its first message, ``begin``.
        """
        first = 0
        pending = set(seqs)
        while pending:
            reply = sock.recv(1 << 16)
            for mtype, seq, start, _end in nl.messages(reply):
                if mtype == NLMSG_ERROR and (seq in pending or seq == begin):
                    pending.discard(seq)
                    code = nl.error_code(reply, start)
                    if code and not first:
                        first = code
                        # On an error the kernel answers the failed requests only
                        # (and those it acknowledged before): wait no further.
                        pending.clear()
        return first

