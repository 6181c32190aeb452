"""``local``: a network that exists on one host only; no segment, no uplink."""

from __future__ import annotations

from typing import Any

from naas_lib import constants
from naas_lib.network_types.base import NetworkType


class LocalType(NetworkType):
    name = constants.TYPE_LOCAL

    def validate(self, segmentation_id: Any, physical_network: Any
                 ) -> tuple[int | None, str | None]:
        if segmentation_id is not None or physical_network is not None:
            raise self.refuse("takes no segmentation id or physical network")
        return None, None

    def allocate(self, session, network_id, segmentation_id, physical_network) -> None:
        return None

    def release(self, session, network_id) -> None:
        return None
