"""The contract of a network type."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib.network_types import segment_pool
from naas_lib.network_types.segment_pool import IdRange


class NetworkType(abc.ABC):
    """One kind of L2 segment: how it is validated, allocated, released and encapsulated.

    Built once per service with the ``[network]`` option group handed in
    (a type reads only its own options from it). Methods taking a session
    run inside the caller's transaction and do no other I/O.
    """

    #: The name in ``network_type`` and in the entry point.
    name: str = ""
    #: Bytes of encapsulation between the guest's frame and the physical wire.
    overhead: int = 0
    #: Whether ``segmentation_id`` has a meaning for this type.
    has_segmentation_id: bool = False
    #: Whether this type rides on a named physical network.
    needs_physical_network: bool = False

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    def refuse(self, reason: str) -> exc.InvalidNetworkType:
        return exc.InvalidNetworkType(network_type=self.name, reason=reason)

    @abc.abstractmethod
    def validate(self, segmentation_id: Any, physical_network: Any
                 ) -> tuple[int | None, str | None]:
        """The normalized (segmentation id, physical network) or InvalidNetworkType."""

    #: The configured segment ranges (types with segmentation ids set them).
    ranges: Sequence[IdRange] = ()
    #: The option that holds them, stored at first start: every process must agree.
    ranges_option: str | None = None

    def id_ranges(self) -> Sequence[IdRange]:
        """The configured segment ranges, stored at start (none for types without ids)."""
        return self.ranges

    def settings(self) -> dict[str, str]:
        """Deployment settings that every process must agree on (stored at first start)."""
        if self.ranges_option is None:
            return {}
        return {self.ranges_option: ",".join(r.as_text() for r in self.ranges)}

    def allocate(self, session: orm.Session, network_id: str, segmentation_id: int | None,
                 physical_network: str | None) -> int | None:
        """Reserve a new network's segment; its segmentation id (None when it has none)."""
        return segment_pool.allocate(session, network_id, self.name, physical_network,
                                     segmentation_id)

    def release(self, session: orm.Session, network_id: str) -> None:
        """Free a deleted network's segment for reuse."""
        segment_pool.release(session, network_id)

    def max_mtu(self, wire_mtu: int) -> int:
        """The largest guest MTU on a wire of ``wire_mtu`` bytes."""
        return wire_mtu - self.overhead

    def probe_segmentation_id(self) -> int | None:
        """A valid id for a stand-in network (to ask a driver "could you realize this?")."""
        return None
