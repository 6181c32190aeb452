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
