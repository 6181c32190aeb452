"""One echo reply within a deadline, asked for again until the deadline (``naas check``, tests).

iputils ``ping -w`` gives up at the first ICMP error it receives: a guest
whose kernel marked a neighbour FAILED (it was unreachable a moment ago)
gets "host unreachable" until it resolves the address again, and a single
``ping -w 2`` then reports no connectivity although the path works a moment
later. :func:`ping` runs ping again until the deadline, as a user retrying
would, so an answer anywhere within the deadline counts.
"""

from __future__ import annotations

import math
import subprocess
import time

#: Pause between two ping runs (and ping's own interval between requests).
INTERVAL = 0.2


def ping(netns: str | None, address: str, deadline: float = 2.0, *, size: int | None = None,
         dont_fragment: bool = False, source: str | None = None) -> bool:
    """Whether ``address`` answers an echo request sent from ``netns`` within ``deadline`` s.

    ``netns`` None pings from this process's namespace. ``size`` is the
    payload size, ``dont_fragment`` forbids fragmentation (path MTU checks),
    ``source`` is the address or device to send from.
    """
    end = time.monotonic() + deadline
    while (left := end - time.monotonic()) > 0:
        cmd = ["ping", "-n", "-q", "-c", "1", "-i", str(INTERVAL),
               "-w", str(max(1, math.ceil(left)))]
        if size is not None:
            cmd += ["-s", str(size)]
        if dont_fragment:
            cmd += ["-M", "do"]
        if source:
            cmd += ["-I", source]
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        try:
            done = subprocess.run([*cmd, address], capture_output=True, timeout=left + 10)
        except subprocess.TimeoutExpired:
            return False
        if done.returncode == 0:
            return True
        time.sleep(min(INTERVAL, max(0.0, end - time.monotonic())))
    return False
