"""MAC address generation under the deployment's base MAC."""

from __future__ import annotations

import random

import netaddr


def base_octets(base_mac: str) -> list[int]:
    mac = netaddr.EUI(base_mac, dialect=netaddr.mac_unix_expanded)
    return [int(o, 16) for o in str(mac).split(":")]


def generate(base_mac: str, rng: random.Random | None = None) -> str:
    """A random MAC keeping the base's first three octets and any non-zero later ones."""
    rng = rng or random.SystemRandom()
    octets = base_octets(base_mac)
    for i in range(3, 6):
        if octets[i] == 0:
            octets[i] = rng.randrange(256)
    return ":".join(f"{o:02x}" for o in octets)


def generate_many(base_mac: str, count: int, rng: random.Random | None = None) -> list[str]:
    """``count`` distinct MACs as :func:`generate` makes them, the base parsed once.

    For a bulk create (issue 13): distinct within the batch; against the
    network's other ports the (network, MAC) unique constraint still judges.
    """
    rng = rng or random.SystemRandom()
    octets = base_octets(base_mac)
    free = [i for i in range(3, 6) if octets[i] == 0]
    if count > 256 ** len(free):
        raise ValueError(f"{count} MACs do not fit under base {base_mac}")
    made: dict[str, None] = {}
    while len(made) < count:
        for i in free:
            octets[i] = rng.randrange(256)
        made[":".join(f"{o:02x}" for o in octets)] = None
    return list(made)
