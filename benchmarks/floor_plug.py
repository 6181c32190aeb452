"""Floor for plugging: the same taps made with bare pyroute2, no driver around it.

Creates a bridge and ``count`` taps on it in a throw-away network namespace,
each tap with the fewest kernel calls there are (the tun ioctls, its index by ioctl,
then one fused RTM_NEWLINK for master, MTU and state), and prints microseconds per
tap. ``bench_plug.py`` imports :func:`run` to compute its ratio.

    sudo .venv/bin/python benchmarks/floor_plug.py [COUNT]
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import time
import uuid

from pyroute2 import IPRoute, netns

TUNSETIFF, TUNSETPERSIST = 0x400454CA, 0x400454CB
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000


def run(count: int = 200, mtu: int = 1450) -> float:
    """Seconds per tap, measured in a namespace made and removed here."""
    name = "naasfloor" + uuid.uuid4().hex[:8]
    netns.create(name)
    try:
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        netns.setns(name, flags=0)  # this process works in the namespace until the end
        try:
            with IPRoute() as ipr:
                ipr.link("add", ifname="brfloor", kind="bridge", state="up")
                bridge = ipr.link_lookup(ifname="brfloor")[0]
                start = time.perf_counter()
                for i in range(count):
                    dev = f"tapfloor{i}"
                    fd = os.open("/dev/net/tun", os.O_RDWR)
                    try:
                        flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
                        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), flags))
                        fcntl.ioctl(fd, TUNSETPERSIST, 1)
                    finally:
                        os.close(fd)
                    index = socket.if_nametoindex(dev)  # an ioctl, no netlink decode
                    ipr.link("set", index=index, master=bridge, mtu=mtu, state="up")
                elapsed = time.perf_counter() - start
        finally:
            netns.setns(own)
            os.close(own)
    finally:
        netns.remove(name)
    return elapsed / count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    per = run(count)
    print(f"floor (bare pyroute2, ioctl + one fused RTM_NEWLINK): {count} taps, "
          f"{per * 1e6:.0f} us/tap")


if __name__ == "__main__":
    main()
