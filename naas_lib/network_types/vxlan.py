"""``vxlan``: an overlay segment identified by a VNI, carried over UDP between hosts."""

from __future__ import annotations

from typing import Any

from naas_lib import constants, validation
from naas_lib.network_types import segment_pool
from naas_lib.network_types.base import NetworkType


class VxlanType(NetworkType):
    name = constants.TYPE_VXLAN
    overhead = constants.VXLAN_IPV4_OVERHEAD
    has_segmentation_id = True
    ranges_option = "vni_ranges"

    def __init__(self, conf: Any) -> None:
        super().__init__(conf)
        self.ranges = segment_pool.parse_vni_ranges(conf.vni_ranges)

    def validate(self, segmentation_id: Any, physical_network: Any
                 ) -> tuple[int | None, str | None]:
        if physical_network is not None:
            raise self.refuse("takes no physical network")
        if segmentation_id is not None:
            return validation.integer("segmentation_id", segmentation_id,
                                      constants.MIN_VNI, constants.MAX_VNI), None
        if not self.ranges:
            raise self.refuse("no vni_ranges are configured")
        return None, None

    def probe_segmentation_id(self) -> int | None:
        return constants.MIN_VNI
