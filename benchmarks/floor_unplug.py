"""Floor for an instance's teardown: its taps removed by bare pyroute2 in one group delete.

Makes ``count`` instances' worth of taps (``per_instance`` each) on a bridge
in a throw-away network namespace (not timed), then removes each instance's
taps the fastest way the kernel offers: move them into a fresh device group,
delete the group in one RTM_DELLINK (one RCU wait for the batch instead of
one per device). Prints microseconds per instance; ``bench_boot.py`` imports
:func:`run` for the teardown ratio.

    sudo .venv/bin/python benchmarks/floor_unplug.py [COUNT]
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import time
import uuid

from pyroute2 import IPRoute, netns

TUNSETIFF, TUNSETPERSIST = 0x400454CA, 0x400454CB
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
GROUP_BASE = 0x6E610000  # far from the groups people configure


def _tap(name: str) -> None:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        fcntl.ioctl(fd, TUNSETPERSIST, 1)
    finally:
        os.close(fd)


def run(count: int = 100, per_instance: int = 2) -> float:
    """Seconds per instance to remove its ``per_instance`` taps, in a namespace made here."""
    name = "naasunplug" + uuid.uuid4().hex[:8]
    netns.create(name)
    try:
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        netns.setns(name, flags=0)
        try:
            with IPRoute() as ipr:
                ipr.link("add", ifname="brfloor", kind="bridge", state="up")
                bridge = ipr.link_lookup(ifname="brfloor")[0]
                instances = []
                for i in range(count):
                    indexes = []
                    for j in range(per_instance):
                        dev = f"tapf{i}x{j}"
                        _tap(dev)
                        index = ipr.link_lookup(ifname=dev)[0]
                        ipr.link("set", index=index, master=bridge, state="up")
                        indexes.append(index)
                    instances.append(indexes)
                start = time.perf_counter()
                for i, indexes in enumerate(instances):
                    group = GROUP_BASE + 1 + i
                    for index in indexes:
                        ipr.link("set", index=index, group=group)
                    ipr.link("del", group=group)
                elapsed = time.perf_counter() - start
        finally:
            netns.setns(own)
            os.close(own)
    finally:
        netns.remove(name)
    return elapsed / count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    per = run(count)
    print(f"floor (bare pyroute2, one group delete per instance): {count} instances x 2 taps, "
          f"{per * 1e6:.0f} us/instance")


if __name__ == "__main__":
    main()
