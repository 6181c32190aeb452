"""``flat``: untagged traffic on a named physical network; one network per physnet."""

from __future__ import annotations

from typing import Any

from naas_lib import constants, validation
from naas_lib.network_types.base import NetworkType


class FlatType(NetworkType):
    name = constants.TYPE_FLAT
    needs_physical_network = True

    def validate(self, segmentation_id: Any, physical_network: Any
                 ) -> tuple[int | None, str | None]:
        if segmentation_id is not None:
            raise self.refuse("takes no segmentation id")
        if physical_network is None:
            raise self.refuse("physical_network is required")
        physnet = validation.string("physical_network", physical_network, 64)
        allowed = list(self.conf.flat_networks)
        if "*" not in allowed and physnet not in allowed:
            raise self.refuse(f"physical network {physnet} is not in [network] flat_networks")
        return None, physnet
