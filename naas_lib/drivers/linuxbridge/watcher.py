"""Watch the driver's namespace for port devices that vanish or leave their bridge.

Nova's own unplug on the ``tap`` path deletes a port's tap behind the
library's back; until the next reconciliation round the port would still
read ACTIVE. A :class:`LinkWatcher` listens to the kernel's link
notifications in a daemon thread and, for each port device (``tap``/``nvh``
name) that went or was announced on no bridge, asks ``is_lost(name)``
whether it is now missing or off its bridge (the driver answers, ignoring
devices it removes itself); if so it calls ``on_lost`` with the 11
characters of port id the name carries, so the service can mark that port
BUILD and have it repaired. Link events are only hints: the answer always
comes from the current state of the device.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from naas_lib.drivers.linuxbridge import names
from naas_lib.drivers.linuxbridge import netlink as nl

LOG = logging.getLogger(__name__)

#: Longest wait for events before the thread looks at its stop flag (seconds).
POLL = 0.2


class LinkWatcher:
    """A daemon thread reporting lost port devices of one namespace."""

    def __init__(self, netns: str | None, is_lost: Callable[[str], bool],
                 on_lost: Callable[[str | None], None]) -> None:
        self.netns = netns
        self._is_lost = is_lost
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events: nl.LinkEvents | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Subscribe to link events and start the thread; a no-op while running."""
        if self.running:
            return
        self._stop.clear()
        # Subscribed before returning: a deletion right after start is seen.
        self._events = nl.LinkEvents(self.netns)
        self._thread = threading.Thread(
            target=self._run, name=f"naas-linkwatch-{self.netns or 'host'}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the thread and close its socket; True when the thread has ended."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        ended = thread is None or not thread.is_alive()
        if ended and self._events is not None:
            self._events.close()
            self._events = None
        return ended

    def _run(self) -> None:
        events = self._events
        while events is not None and not self._stop.is_set():
            try:
                changed = events.read(POLL)
            except OSError:
                LOG.exception("Link watcher of %s cannot read events; it stops",
                              self.netns or "host")
                return
            for name in dict.fromkeys(changed):  # each device once per batch
                if self._stop.is_set():
                    return
                self._handle(name)

    def _handle(self, name: str) -> None:
        try:
            if name == "*":  # events were dropped: let reconciliation look at everything
                self._on_lost(None)
            elif names.is_port_device(name) and self._is_lost(name):
                prefix = next(p for p in names.PORT_PREFIXES if name.startswith(p))
                self._on_lost(name[len(prefix):])
        except Exception:  # one bad event must not end the watch
            LOG.exception("Handling a change of link %s failed", name)
