"""Read the forwarding tables of a namespace host: where its bridges send a MAC.

Used by the Nova flow tests to check that after a move the guest's MAC is
learned at its new place and on no old path (``bridge fdb``).
"""

from __future__ import annotations

import json
import subprocess


def entries(netns: str, mac: str) -> list[dict]:
    """Every forwarding entry of ``mac`` in ``netns`` (bridge and VXLAN tables)."""
    out = subprocess.run(["bridge", "-n", netns, "-j", "fdb", "show"], capture_output=True,
                         text=True, check=True).stdout
    return [e for e in json.loads(out or "[]") if e.get("mac") == mac.lower()]


def learned_on(netns: str, mac: str) -> set[str]:
    """The devices ``netns``'s bridges forward ``mac`` to (learned, not permanent, entries)."""
    return {e["ifname"] for e in entries(netns, mac)
            if "permanent" not in e.get("state", "") and e.get("master")}


def pinned(netns: str, mac: str) -> list[dict]:
    """VXLAN entries that send ``mac`` to one remote endpoint (there should be none)."""
    return [e for e in entries(netns, mac) if e.get("dst")]
