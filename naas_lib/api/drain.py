"""Stop a cheroot server without losing a request it accepted.

cheroot's own ``stop()`` closes the listening socket (resetting connections
still in the kernel's accept queue) and every idle keep-alive connection
(losing a request the client had just sent on it). :func:`drain` stops
in an order that loses none:

1. new TCP handshakes are refused at the listening socket (a socket filter
   drops SYNs; a client's connect waits, then is refused once the socket
   closes), while handshakes already under way still complete;
2. every response from now on says ``Connection: close``;
3. the serving loop keeps running until the accept queue is empty and no
   keep-alive connection is idle, so queued connections and requests
   already sent on kept-alive connections are read and answered;
4. cheroot's ``stop()`` then ends the serving loop and waits for the worker
   threads to finish what they hold, the queued connections included, and
   the listener is closed.

Everything is bounded by the drain time; past it cheroot closes what is left.
"""

from __future__ import annotations

import ctypes
import logging
import socket
import struct
import time

from cheroot import wsgi

LOG = logging.getLogger(__name__)

_SO_ATTACH_FILTER = 26
# Classic BPF on a TCP socket sees the packet from its TCP header: byte 13 is
# the flags. Drop a segment with SYN set (a new handshake), keep the rest.
_DROP_SYN = (
    (0x30, 0, 0, 13),          # ldb [13]
    (0x45, 0, 1, 0x02),        # jset #SYN -> next, else skip one
    (0x06, 0, 0, 0),           # ret #0 (drop)
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1 (keep)
)
# An idle keep-alive connection whose client sends nothing more is closed
# after this long (its client then opens a new connection, which is refused).
IDLE_GRACE = 1.0
_POLL = 0.005


class DrainingServer(wsgi.Server):
    """A cheroot WSGI server that can be told to answer with ``Connection: close``."""

    draining = False

    @property
    def can_add_keepalive_connection(self) -> bool:
        return not self.draining and super().can_add_keepalive_connection


def refuse_new_connections(sock: socket.socket) -> bool:
    """Drop new handshakes at ``sock``; False where the platform cannot (Linux only)."""
    program = b"".join(struct.pack("HBBI", *insn) for insn in _DROP_SYN)
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HL", len(_DROP_SYN), ctypes.addressof(buf))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError as e:
        LOG.warning("Cannot refuse new connections before closing the listener: %s", e)
        return False
    return True


def accept_queue_length(sock: socket.socket) -> int:
    """Connections the kernel completed but nobody accepted yet (0 if unknown)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except (OSError, AttributeError):
        return 0
    return struct.unpack_from("I", info, 24)[0]  # tcpi_unacked: the queue of a listener


def _idle_connections(server: wsgi.Server) -> int:
    manager = getattr(server, "_connections", None)
    return max(getattr(manager, "_num_connections", 0), 0)


def _workers_busy(server: wsgi.Server) -> bool:
    """Whether a worker holds a connection or one waits in the pool's queue."""
    pool = server.requests
    return pool.qsize > 0 or pool.idle < len(getattr(pool, "_threads", ()))


def drain(server: DrainingServer, timeout: float) -> bool:
    """Stop ``server`` (serving in another thread) after answering what it accepted.

    Returns whether everything was answered within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    server.draining = True
    sock = server.socket
    if sock is not None:
        refuse_new_connections(sock)
    idle_until = time.monotonic() + min(IDLE_GRACE, timeout)
    while time.monotonic() < deadline:
        # With every worker free and nothing queued, no connection can be
        # handed back to the serving loop as kept alive any more.
        queued = accept_queue_length(sock) if sock is not None else 0
        if queued == 0 and not _workers_busy(server):
            if _idle_connections(server) == 0 or time.monotonic() >= idle_until:
                break
        time.sleep(_POLL)
    server.shutdown_timeout = max(deadline - time.monotonic(), 0.1)
    # cheroot's stop() would connect to the listener to wake its loop, and
    # wait a second for the handshake the filter drops: close it here instead.
    server.socket = None
    server.stop()
    if sock is not None:
        sock.close()
    return time.monotonic() <= deadline
