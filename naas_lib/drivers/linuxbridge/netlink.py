"""All kernel work of the Linux bridge driver, over one persistent netlink socket.

This is the only module of the driver that talks to the kernel, and it takes
plain values (names, indexes, numbers, addresses) and returns plain values,
so it can be moved behind oslo.privsep in a Nova that does not run as root.

A :class:`Kernel` opens its rtnetlink socket lazily, on first use, and keeps
it until :meth:`Kernel.close`. With ``netns`` set it works inside that named
network namespace (a simulated host in tests, or a containerised host): the
socket is created from a thread that enters the namespace for the moment of
``socket()``, and so is each tap's ``/dev/net/tun`` handle (a tap lives in
the namespace that opened it).

Errors are branched on ``NetlinkError.code`` (errno), never on text.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import os
import random
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
IFF_UP = 0x1
IFA_F_NODAD = 0x02
NTF_SELF = 0x02
NTF_MASTER = 0x04
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
FLOOD_MAC = "00:00:00:00:00:00"

# /dev/net/tun ioctls and flags (linux/if_tun.h).
TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_TUN_EXCL = 0x8000  # fail with EBUSY when the device exists

# Link reads (hand-parsed: see _LinkReader).
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_GROUP, IFLA_EXT_MASK = 3, 4, 10, 18, 27, 29
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_BR_FORWARD_DELAY, IFLA_BR_STP_STATE = 1, 5
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
RTEXT_FILTER_SKIP_STATS = 1 << 3
_HDR = struct.Struct("IHHII")
_IFINFO = struct.Struct("BxHiII")
_RTA = struct.Struct("HH")

# Device group used by nobody else: teardown moves devices into a random
# group above this and deletes the whole group in one request.
_GROUP_BASE = 0x4E410000
#: Groups of removals that take no dump: this bit and an index of the batch.
_OWN_GROUPS = 0x80000000

__all__ = ["Kernel", "Link", "LinkEvents", "NetlinkError", "FLOOD_MAC"]


@dataclasses.dataclass(frozen=True)
class Link:
    """The facts about a network device the driver acts on."""

    index: int
    name: str
    kind: str | None
    mtu: int
    master: int | None
    up: bool
    group: int = 0


def _attr(kind: int, payload: bytes) -> bytes:
    data = _RTA.pack(_RTA.size + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def messages(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """The netlink messages of one read: (type, sequence number, payload start, end)."""
    off = 0
    while off + _HDR.size <= len(data):
        length, mtype, _flags, seq, _pid = _HDR.unpack_from(data, off)
        if length < _HDR.size:
            return
        yield mtype, seq, off + _HDR.size, off + length
        off += (length + 3) & ~3


def error_code(data: bytes, start: int) -> int:
    """The errno an NLMSG_ERROR message carries at ``start`` (0: an acknowledgement)."""
    return -struct.unpack_from("i", data, start)[0]


def _parse_link(data: bytes, start: int, end: int) -> Link:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(data, start)
    name, mtu, master, group, kind = "", 0, None, 0, None
    off = start + _IFINFO.size
    while off + _RTA.size <= end:
        length, atype = _RTA.unpack_from(data, off)
        if length < _RTA.size:
            break
        atype &= 0x3FFF
        value = off + _RTA.size
        if atype == IFLA_IFNAME:
            name = data[value:off + length].split(b"\0", 1)[0].decode()
        elif atype == IFLA_MTU:
            mtu = struct.unpack_from("I", data, value)[0]
        elif atype == IFLA_MASTER:
            master = struct.unpack_from("I", data, value)[0] or None
        elif atype == IFLA_GROUP:
            group = struct.unpack_from("I", data, value)[0]
        elif atype == IFLA_LINKINFO:
            inner = value
            while inner + _RTA.size <= off + length:
                ilen, itype = _RTA.unpack_from(data, inner)
                if ilen < _RTA.size:
                    break
                if itype & 0x3FFF == IFLA_INFO_KIND:
                    kind = data[inner + _RTA.size:inner + ilen].split(b"\0", 1)[0].decode()
                inner += (ilen + 3) & ~3
        off += (length + 3) & ~3
    return Link(index=index, name=name, kind=kind, mtu=mtu, master=master,
                up=bool(flags & IFF_UP), group=group)


class _RouteSocket:
    """A raw NETLINK_ROUTE socket in the driver's namespace, opened on first use."""

    #: Receive buffer to ask for (None: the kernel's default).
    rcvbuf: int | None = None

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self._sock: socket.socket | None = None
        self._seq = 0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            with entered(self.netns):
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            if self.rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.bind((0, 0))
            self._sock = sock
        return self._sock

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF
        return self._seq


class _LinkReader(_RouteSocket):
    """RTM_GETLINK on a raw rtnetlink socket, decoding only the fields we use.

    A full pyroute2 decode of one link message (statistics, per-family
    configuration...) costs about a millisecond; reading five attributes by
    hand costs microseconds, and statistics are not even requested. Reads
    are on the plug path, so this is where the driver keeps up with bare
    netlink.
    """

    rcvbuf = 1 << 20

    def request(self, attrs: bytes, dump: bool,
                until: Callable[[Link], bool] | None = None) -> list[Link]:
        """The links the kernel answers; with ``until``, parsing stops after the
        first link it accepts (the rest of the dump is read, not decoded)."""
        sock = self._socket()
        seq = self._next_seq()
        body = (_IFINFO.pack(0, 0, 0, 0, 0) + attrs
                + _attr(IFLA_EXT_MASK, struct.pack("I", RTEXT_FILTER_SKIP_STATS)))
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        sock.send(_HDR.pack(_HDR.size + len(body), RTM_GETLINK, flags, seq, 0) + body)
        links: list[Link] = []
        found = False
        while True:
            data = sock.recv(1 << 17)
            for mtype, mseq, start, end in messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return links
                if mtype == NLMSG_ERROR:
                    code = error_code(data, start)
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return links
                if mtype == RTM_NEWLINK and not found:
                    link = _parse_link(data, start, end)
                    links.append(link)
                    found = until is not None and until(link)
            if not dump and links:
                return links


def _send_acked(sock: socket.socket, data: bytes, seqs: list[int],
                sending: Callable[[], None] | None) -> dict[int, int]:
    """Send ``data`` and collect the error code (0: done) of each request in ``seqs``."""
    if sending is not None:
        sending()
    sock.send(data)
    codes: dict[int, int] = {}
    while len(codes) < len(seqs):
        reply = sock.recv(1 << 16)
        for mtype, mseq, start, _end in messages(reply):
            if mtype == NLMSG_ERROR and mseq in seqs:
                codes[mseq] = error_code(reply, start)
    return codes


class _LinkWriter(_RouteSocket):
    """Acknowledged RTM_NEWLINK/RTM_DELLINK requests on a raw socket of its own, one at a time.

    Requests are built by hand (a few attributes) and their acknowledgements
    read by hand: no pyroute2 encoding, event loop or reply decode.
    """

    def __init__(self, netns: str | None) -> None:
        super().__init__(netns)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            super().close()

    def _message(self, mtype: int, flags: int, index: int, attrs: bytes,
                 ifi_flags: int = 0, ifi_change: int = 0) -> tuple[int, bytes]:
        seq = self._next_seq()
        body = _IFINFO.pack(0, 0, index, ifi_flags, ifi_change) + attrs
        return seq, _HDR.pack(_HDR.size + len(body), mtype, flags, seq, 0) + body

    def change(self, index: int, name: str | None, mtu: int | None, master: int | None,
               up: bool | None) -> None:
        """Set MTU, master and state of one device (by index, else by ``name``) in one request.

        Raises the kernel's error as :class:`NetlinkError` (ENODEV: no such device).
        """
        attrs = b""
        if index == 0 and name is not None:
            attrs += _attr(IFLA_IFNAME, name.encode() + b"\0")
        if mtu is not None:
            attrs += _attr(IFLA_MTU, struct.pack("I", mtu))
        if master is not None:
            attrs += _attr(IFLA_MASTER, struct.pack("I", master))
        self.request(NLM_F_REQUEST | NLM_F_ACK, index, attrs,
                     IFF_UP if up else 0, 0 if up is None else IFF_UP)

    def request(self, flags: int, index: int, attrs: bytes, ifi_flags: int = 0,
                ifi_change: int = 0) -> None:
        """One RTM_NEWLINK request, acknowledged; the kernel's error raised by errno."""
        with self._lock:
            sock = self._socket()
            seq, msg = self._message(RTM_NEWLINK, flags, index, attrs, ifi_flags, ifi_change)
            code = _send_acked(sock, msg, [seq], None)[seq]
        if code:
            raise NetlinkError(code, os.strerror(code))


class _LinkRemover(_LinkWriter):
    """RTM_DELLINK (by index, or by device group after moving devices into it), raw.

    All the requests of one removal go in one datagram, each acknowledged;
    the kernel handles them in order, and the sender waits once for the
    grace period that ends the last delete. Its own socket, so it may run
    while the reader's (or the changer's) is in use on another thread.
    """

    def delete(self, indexes: Sequence[int], group: int | None,
               sending: Callable[[], None] | None = None) -> int:
        """Delete ``indexes`` (one, or all through ``group``); how many existed.

        ``sending`` is called right before the requests go to the kernel.
        """
        flags = NLM_F_REQUEST | NLM_F_ACK
        with self._lock:
            sock = self._socket()
            if group is None:
                seq, msg = self._message(RTM_DELLINK, flags, indexes[0], b"")
                code = _send_acked(sock, msg, [seq], sending)[seq]
                if code not in (0, errno.ENODEV):
                    raise NetlinkError(code, os.strerror(code))
                return int(code == 0)
            moves, data = [], b""
            for index in indexes:
                seq, msg = self._message(RTM_NEWLINK, flags, index,
                                         _attr(IFLA_GROUP, struct.pack("I", group)))
                moves.append(seq)
                data += msg
            last, msg = self._message(RTM_DELLINK, flags, 0,
                                      _attr(IFLA_GROUP, struct.pack("I", group)))
            codes = _send_acked(sock, data + msg, [*moves, last], sending)
        moved = 0
        for seq in [*moves, last]:
            code = codes.get(seq, 0)
            if code == 0:
                moved += seq != last
            elif code != errno.ENODEV:  # gone already (or an empty group): nothing to do
                raise NetlinkError(code, os.strerror(code))
        return moved


#: rtnetlink multicast group of link changes (linux/rtnetlink.h RTMGRP_LINK).
RTMGRP_LINK = 0x1


class LinkEvents:
    """Link change notifications (RTM_NEWLINK/RTM_DELLINK) of one namespace.

    A raw rtnetlink socket joined to the link multicast group; :meth:`read`
    waits up to a timeout and returns the names of the links that changed or
    went. Decoding is the same hand parse as :class:`_LinkReader`.
    """

    def __init__(self, netns: str | None) -> None:
        with entered(netns):
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((0, RTMGRP_LINK))
        except OSError:
            sock.close()
            raise
        self._sock: socket.socket | None = sock

    def read(self, timeout: float) -> list[str]:
        """Names of links that went or may have left a bridge; [] after ``timeout`` seconds.

        A link announced with a master (it is on a bridge) is left out: most
        events, a plug's included, need no further look.
        """
        sock = self._sock
        if sock is None or not select.select([sock], [], [], timeout)[0]:
            return []
        try:
            data = sock.recv(1 << 17)
        except OSError as e:
            if e.errno == errno.ENOBUFS:  # events overran the buffer: report them all unknown
                return ["*"]
            raise
        changed: list[str] = []
        for mtype, _seq, start, end in messages(data):
            if mtype in (RTM_NEWLINK, RTM_DELLINK):
                link = _parse_link(data, start, end)
                on_bridge = mtype == RTM_NEWLINK and link.master is not None
                if link.name and not on_bridge:
                    changed.append(link.name)
        return changed

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def entered(netns: str | None) -> Iterator[None]:
    """Run the body with this thread in network namespace ``netns`` (None: stay).

    Only the calling thread moves, and it always moves back: used for the
    moment a socket or a ``/dev/net/tun`` handle is created.
    """
    if netns is None:
        yield
        return
    path = netns if netns.startswith("/") else os.path.join(NETNS_DIR, netns)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def open_iproute(netns: str | None) -> IPRoute:
    """An rtnetlink socket in ``netns`` (never creates the namespace).

    pyroute2 (0.9) opens one socket per calling thread, lazily; naming the
    namespace (rather than entering it around the constructor) makes the
    socket of every thread, such as the sync loop's, live in ``netns`` too.
    """
    if netns is None:
        return IPRoute()
    return IPRoute(netns=netns, flags=0)


class Kernel:
    """Netlink operations on one host (a network namespace), on one socket."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns or None
        self._ipr: IPRoute | None = None
        self._reader = _LinkReader(self.netns)
        self._writer = _LinkRemover(self.netns)
        self._changer = _LinkWriter(self.netns)
        self._open_lock = threading.Lock()

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            with self._open_lock:
                if self._ipr is None:
                    self._ipr = open_iproute(self.netns)
        return self._ipr

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
        self._changer.close()
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    # -- reading -------------------------------------------------------------

    def get_link(self, name: str) -> Link | None:
        """The device called ``name``, or None when there is none."""
        try:
            found = self._reader.request(_attr(IFLA_IFNAME, name.encode() + b"\0"), dump=False)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise
        return found[0] if found else None

    def any_port(self, master: int, accept: Callable[[Link], bool]) -> bool:
        """Whether bridge ``master`` has a port ``accept`` accepts (decoding stops there)."""
        found = self._reader.request(_attr(IFLA_MASTER, struct.pack("I", master)), dump=True,
                                     until=accept)
        return bool(found) and accept(found[-1])

    def links(self, master: int | None = None) -> list[Link]:
        """Every device of the host, or only the ports of bridge ``master``.

        The kernel filters by master, so the reply stays small.
        """
        attrs = b"" if master is None else _attr(IFLA_MASTER, struct.pack("I", master))
        return self._reader.request(attrs, dump=True)

    # -- making devices --------------------------------------------------------

    def create_bridge(self, name: str, mtu: int) -> Link:
        """A bridge, up, with an MTU that stays put when ports come and go.

        Raw requests: made (STP off, no forward delay; EEXIST when the name is
        taken), then given its MTU, then read back for its index.
        """
        zero = struct.pack("I", 0)
        info = (_attr(IFLA_INFO_KIND, b"bridge\0")
                + _attr(IFLA_INFO_DATA, _attr(IFLA_BR_STP_STATE, zero)
                        + _attr(IFLA_BR_FORWARD_DELAY, zero)))
        self._changer.request(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 0,
                              _attr(IFLA_IFNAME, name.encode() + b"\0")
                              + _attr(IFLA_LINKINFO, info), IFF_UP, IFF_UP)
        # Setting the MTU after creation marks it as chosen by the user, so
        # the bridge keeps it instead of following its smallest port.
        self._changer.change(0, name, mtu, None, None)
        link = self.get_link(name)
        if link is None:
            raise NetlinkError(errno.ENODEV, f"bridge {name} vanished")
        return link

    def create_vxlan(self, name: str, vni: int, local: str, port: int, mtu: int,
                     master: int, up: bool = True) -> Link:
        """A VXLAN device in one request: unicast only, learning off, on ``master``."""
        self.ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local,
                      vxlan_port=port, vxlan_learning=0, mtu=mtu, master=master,
                      state="up" if up else "down")
        return self.get_link(name)

    def create_tap(self, name: str, mtu: int, master: int, up: bool) -> bool:
        """A persistent tap on ``master`` with ``mtu``; False when it already existed.

        The tap is made with the tun ioctls (the kernel refuses tun creation
        over rtnetlink), then given master, MTU and state in one raw request
        naming it (no lookup of its index first).
        """
        created = True
        with entered(self.netns):
            fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL
            try:
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
                fcntl.ioctl(fd, TUNSETPERSIST, 1)
            except OSError as e:
                if e.errno != errno.EBUSY:  # EBUSY: the device exists already
                    raise
                created = False
        finally:
            os.close(fd)
        try:
            try:
                self._changer.change(0, name, mtu, master, up)
            except NetlinkError as e:
                if e.code == errno.ENODEV:
                    raise NetlinkError(errno.ENODEV, f"tap {name} vanished") from e
                raise
        except BaseException:
            if created:  # leave nothing half-made behind
                link = self.get_link(name)
                if link is not None:
                    self.delete_link(link.index)
            raise
        return created

    def create_veth(self, name: str, mtu: int, peer_netns: str, peer_name: str,
                    peer_mac: str) -> Link:
        """A veth pair whose peer is born in ``peer_netns`` as ``peer_name`` with its MAC.

        The host end is left off any bridge and down: the caller attaches it
        once the guest side is configured, so a half-made pair is recognisable.
        """
        self.ipr.link("add", ifname=name, kind="veth", mtu=mtu,
                      peer={"ifname": peer_name, "net_ns_fd": peer_netns,
                            "address": peer_mac, "mtu": mtu})
        return self.get_link(name)

    def set_link(self, index: int, mtu: int | None = None, master: int | None = None,
                 up: bool | None = None) -> None:
        """Change MTU, master and state of a device in one raw, acknowledged request."""
        self._changer.change(index, None, mtu, master, up)

    def set_link_by_name(self, name: str, mtu: int | None = None,
                         master: int | None = None, up: bool | None = None) -> None:
        """:meth:`set_link` for the device called ``name``."""
        self._changer.change(0, name, mtu, master, up)

    # -- removing devices ------------------------------------------------------

    def delete_link(self, index: int) -> bool:
        """Delete one device; False when it was already gone."""
        return bool(self.delete_links([index]))

    def delete_links(self, indexes: Iterable[int], known: Iterable[Link] | None = None) -> int:
        """Delete many devices at once; returns how many were deleted.

        Deleting devices one by one makes the kernel wait for RCU grace
        periods per device (some 17 ms each). The kernel deletes a whole
        device group in one batch, so the devices are first moved into a
        fresh group and then the group is deleted: all of it one datagram
        of requests on a raw socket (no per-request round trip or pyroute2
        decode). ``known``, a dump of the host's links the caller holds,
        picks a group none of them is in; without it the group is named
        after a doomed device (see :meth:`delete_links_started`).
        """
        return self.delete_links_started(indexes, known)()

    def delete_links_started(self, indexes: Iterable[int], known: Iterable[Link] | None = None
                             ) -> Callable[[], int]:
        """Send :meth:`delete_links`' requests from a thread; the returned call waits for them.

        The kernel unlists the devices at once but answers only after the
        grace period; that wait, in the sending thread, holds no lock of
        this process (nor the GIL), so the caller works meanwhile. Returns
        once the requests are on their way; the returned call gives the
        count or raises the kernel's error.
        """
        indexes = list(dict.fromkeys(indexes))
        if not indexes:
            return lambda: 0
        group = None
        if len(indexes) > 1 and known is None:
            # A group named after one of the doomed devices: no other removal
            # uses it unless it removes that very device (doomed either way),
            # and the moves and the delete go in one datagram, so no device
            # is left in it between the two. No dump needed.
            group = _OWN_GROUPS | min(indexes)
        elif len(indexes) > 1:
            used = {link.group for link in known}
            group = _GROUP_BASE + random.randrange(1, 0xFFFF)
            while group in used:
                group = _GROUP_BASE + random.randrange(1, 0xFFFF)
        outcome: dict[str, Any] = {}
        sending = threading.Event()

        def send() -> None:
            try:
                outcome["count"] = self._writer.delete(indexes, group, sending.set)
            except BaseException as e:  # noqa: BLE001 - handed to the waiting caller
                outcome["error"] = e
            finally:
                sending.set()

        thread = threading.Thread(target=send, name="naas-link-delete", daemon=True)
        thread.start()
        sending.wait()  # the requests are being sent: the kernel has them, or will at once

        def wait() -> int:
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            return int(outcome["count"])

        return wait

    # -- VXLAN forwarding entries ------------------------------------------------

    def flood_peers(self, index: int) -> set[str]:
        """Remote endpoints that get this VXLAN device's broadcast/unknown traffic."""
        peers = set()
        for entry in self.ipr.fdb("dump", ifindex=index):
            if entry["ifindex"] == index and entry.get("lladdr") == FLOOD_MAC:
                dst = entry.get("NDA_DST")
                if dst:
                    peers.add(dst)
        return peers

    def add_flood_peer(self, index: int, endpoint: str) -> None:
        """Head-end replication: send flooded frames to ``endpoint`` too."""
        try:
            self.ipr.fdb("append", ifindex=index, lladdr=FLOOD_MAC, dst=endpoint,
                         state=NUD_PERMANENT, flags=NTF_SELF)
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise

    def remove_flood_peer(self, index: int, endpoint: str) -> None:
        try:
            self.ipr.fdb("del", ifindex=index, lladdr=FLOOD_MAC, dst=endpoint)
        except NetlinkError as e:
            if e.code not in (errno.ENOENT, errno.ENODEV):
                raise


    def forget_mac(self, bridge: int, mac: str, vxlan: int | None = None) -> int:
        """Drop what bridge ``bridge`` learned about ``mac``, and ``vxlan``'s entries for it.

        Learned (not permanent, not static) entries of ``mac`` on the bridge's
        ports go, as do unicast entries of ``mac`` on the VXLAN device
        ``vxlan``; the kernel floods frames to ``mac`` until it hears from
        the MAC again. Used when a port moves between hosts: an entry naming
        the old path would swallow the guest's traffic until it ages out.
        Returns how many entries were deleted.
        """
        mac = mac.lower()
        deleted = 0
        for entry in self.ipr.fdb("dump", master=bridge):
            if (entry.get("lladdr") or "").lower() != mac \
                    or entry["state"] & (NUD_PERMANENT | NUD_NOARP):
                continue
            deleted += self._fdb_del(ifindex=entry["ifindex"], lladdr=mac, flags=NTF_MASTER)
        if vxlan is not None:
            for entry in self.ipr.fdb("dump", ifindex=vxlan):
                if entry["ifindex"] == vxlan and (entry.get("lladdr") or "").lower() == mac:
                    deleted += self._fdb_del(ifindex=vxlan, lladdr=mac, flags=NTF_SELF,
                                             dst=entry.get("NDA_DST"))
        return deleted

    def _fdb_del(self, **entry: object) -> int:
        entry = {k: v for k, v in entry.items() if v is not None}
        try:
            self.ipr.fdb("del", **entry)
            return 1
        except NetlinkError as e:
            if e.code not in (errno.ENOENT, errno.ENODEV):
                raise
            return 0


def configure_guest(netns: str, ifname: str, addresses: Sequence[tuple[str, int]],
                    gateways: Sequence[str]) -> None:
    """Bring ``ifname`` (and lo) up in ``netns`` with addresses and default routes.

    Already present addresses and routes are kept, so a repeat is harmless.
    IPv6 addresses skip duplicate address detection: the database already
    made them unique, and the guest can talk at once.
    """
    ipr = open_iproute(netns)
    try:
        index = ipr.link("get", ifname=ifname)[0]["index"]
        for lo in ipr.link_lookup(ifname="lo"):
            ipr.link("set", index=lo, state="up")
        for address, prefixlen in addresses:
            kw = {"flags": IFA_F_NODAD} if ":" in address else {}
            try:
                ipr.addr("add", index=index, address=address, prefixlen=prefixlen, **kw)
            except NetlinkError as e:
                if e.code != errno.EEXIST:
                    raise
        ipr.link("set", index=index, state="up")
        for gateway in gateways:
            v6 = ":" in gateway
            try:
                ipr.route("add", dst="::/0" if v6 else "0.0.0.0/0", gateway=gateway,
                          family=10 if v6 else 2)
            except NetlinkError as e:
                if e.code != errno.EEXIST:
                    raise
    finally:
        ipr.close()
