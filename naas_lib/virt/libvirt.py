"""libvirt ``<interface>`` elements for an instance's VIFs.

The driver has already made each VIF's tap device (on its bridge, with the
network's MTU) before the guest starts, so libvirt gets ``type='ethernet'``
with ``managed='no'``: it must open the existing device, not create or
delete one. Pure functions over the VIF dictionaries the provisioner returns.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from naas_lib.virt import network_info

DEFAULT_MODEL = "virtio"


def interface_element(vif: Mapping[str, Any], model: str = DEFAULT_MODEL) -> ET.Element:
    """The ``<interface type='ethernet'>`` element of one VIF."""
    iface = ET.Element("interface", {"type": "ethernet"})
    ET.SubElement(iface, "mac", {"address": str(vif["address"])})
    ET.SubElement(iface, "target", {"dev": str(vif["devname"]), "managed": "no"})
    ET.SubElement(iface, "model", {"type": model})
    mtu = network_info.vif_mtu(vif)
    if mtu is not None:
        ET.SubElement(iface, "mtu", {"size": str(mtu)})
    return iface


def interface_xml(vif: Mapping[str, Any], model: str = DEFAULT_MODEL) -> str:
    """One VIF's ``<interface>`` as text, for a domain template."""
    return ET.tostring(interface_element(vif, model), encoding="unicode")


def interfaces_xml(vifs: Iterable[Mapping[str, Any]], model: str = DEFAULT_MODEL) -> str:
    """Every VIF's ``<interface>`` in NIC order (the guest sees them in this order)."""
    return "\n".join(interface_xml(v, model) for v in vifs)
