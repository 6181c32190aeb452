"""``vlan``: an 802.1Q-tagged segment on a named physical network."""

from __future__ import annotations

from typing import Any

from naas_lib import constants, validation
from naas_lib.network_types import segment_pool
from naas_lib.network_types.base import NetworkType


class VlanType(NetworkType):
    name = constants.TYPE_VLAN
    has_segmentation_id = True
    ranges_option = "network_vlan_ranges"
    needs_physical_network = True

    def __init__(self, conf: Any) -> None:
        super().__init__(conf)
        self.ranges, self.physnets = segment_pool.parse_vlan_ranges(conf.network_vlan_ranges)

    def validate(self, segmentation_id: Any, physical_network: Any
                 ) -> tuple[int | None, str | None]:
        if physical_network is None:
            raise self.refuse("physical_network is required")
        physnet = validation.string("physical_network", physical_network, 64)
        if physnet not in self.physnets:
            raise self.refuse(
                f"physical network {physnet} is not in [network] network_vlan_ranges")
        if segmentation_id is not None:
            segmentation_id = validation.integer("segmentation_id", segmentation_id,
                                                 constants.MIN_VLAN, constants.MAX_VLAN)
        return segmentation_id, physnet

    def probe_segmentation_id(self) -> int | None:
        return constants.MIN_VLAN
