"""Segment ids of a network type: configured ranges and their allocation in the database.

Pure parsing of the configured ranges lives here next to the database side,
which uses the shared :class:`~naas_lib.ipam.ranges.RangeAllocator` so that a
VNI range of 16 million ids costs what a range of ten does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import constants
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.ipam.addresses import to_key
from naas_lib.ipam.ranges import RangeAllocator

_allocator = RangeAllocator(models.SegmentRange.__table__, models.SegmentFree.__table__,
                            "range_id", "value_key")


@dataclasses.dataclass(frozen=True)
class IdRange:
    network_type: str
    physical_network: str  # '' for vxlan
    first: int
    last: int

    def as_text(self) -> str:
        prefix = f"{self.physical_network}:" if self.physical_network else ""
        return f"{prefix}{self.first}:{self.last}"


def parse_vni_ranges(entries: Iterable[str]) -> list[IdRange]:
    ranges = []
    for entry in entries:
        try:
            lo_s, hi_s = entry.split(":")
            lo, hi = int(lo_s), int(hi_s)
        except ValueError:
            raise exc.InvalidInput(field="vni_ranges", reason=f"{entry!r} is not MIN:MAX") from None
        if not constants.MIN_VNI <= lo <= hi <= constants.MAX_VNI:
            raise exc.InvalidInput(
                field="vni_ranges",
                reason=f"{entry!r} is outside {constants.MIN_VNI}:{constants.MAX_VNI}")
        ranges.append(IdRange(constants.TYPE_VXLAN, "", lo, hi))
    return _check_disjoint(ranges, "vni_ranges")


def parse_vlan_ranges(entries: Iterable[str]) -> tuple[list[IdRange], set[str]]:
    """VLAN ranges and the set of physical networks VLANs may use."""
    ranges, physnets = [], set()
    for entry in entries:
        parts = entry.split(":")
        physnet = parts[0]
        if not physnet:
            raise exc.InvalidInput(field="network_vlan_ranges", reason=f"{entry!r} lacks a name")
        physnets.add(physnet)
        if len(parts) == 1:
            continue
        try:
            lo, hi = int(parts[1]), int(parts[2])
            if len(parts) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise exc.InvalidInput(field="network_vlan_ranges",
                                   reason=f"{entry!r} is not PHYSNET:MIN:MAX") from None
        if not constants.MIN_VLAN <= lo <= hi <= constants.MAX_VLAN:
            raise exc.InvalidInput(field="network_vlan_ranges",
                                   reason=f"{entry!r} is outside 1:4094")
        ranges.append(IdRange(constants.TYPE_VLAN, physnet, lo, hi))
    return _check_disjoint(ranges, "network_vlan_ranges"), physnets


def _check_disjoint(ranges: list[IdRange], field: str) -> list[IdRange]:
    ordered = sorted(ranges, key=lambda r: (r.physical_network, r.first))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.physical_network == b.physical_network and b.first <= a.last:
            raise exc.InvalidInput(field=field, reason=f"{a.as_text()} overlaps {b.as_text()}")
    return ordered


def ensure_ranges(session: orm.Session, ranges: Sequence[IdRange]) -> None:
    """Create range rows that do not exist yet (first start of a deployment)."""
    for r in ranges:
        exists = session.execute(
            sa.select(models.SegmentRange.id).where(
                models.SegmentRange.network_type == r.network_type,
                models.SegmentRange.physical_network == r.physical_network,
                models.SegmentRange.first_key == to_key(r.first))
        ).first()
        if exists is None:
            session.add(models.SegmentRange(
                network_type=r.network_type, physical_network=r.physical_network,
                first_key=to_key(r.first), last_key=to_key(r.last), next_key=to_key(r.first)))


def _ranges_for(session: orm.Session, network_type: str, physnet: str) -> list:
    return list(session.execute(
        sa.select(models.SegmentRange.id, models.SegmentRange.first_key,
                  models.SegmentRange.last_key, models.SegmentRange.next_key)
        .where(models.SegmentRange.network_type == network_type,
               models.SegmentRange.physical_network == physnet)
        .order_by(models.SegmentRange.first_key)))


def _is_taken(session: orm.Session, network_type: str, physnet: str):
    def taken(value: int) -> bool:
        return session.execute(
            sa.select(models.SegmentAllocation.network_id).where(
                models.SegmentAllocation.network_type == network_type,
                models.SegmentAllocation.physical_network == physnet,
                models.SegmentAllocation.segmentation_id == value)
        ).first() is not None
    return taken


def allocate(session: orm.Session, network_id: str, network_type: str,
             physical_network: str | None, segmentation_id: int | None) -> int | None:
    """Reserve the segment of a new network; returns its segmentation id.

    A requested id is checked against the unique constraint; otherwise the
    next free id of the type's ranges is taken. ``local`` has no segment.
    """
    if network_type == constants.TYPE_LOCAL:
        return None
    physnet = physical_network or ""
    if network_type == constants.TYPE_FLAT:
        segmentation_id = 0
    ranges = _ranges_for(session, network_type, physnet)
    requested = segmentation_id is not None
    if not requested:
        found = _allocator.allocate(session, ranges, _is_taken(session, network_type, physnet))
        if found is None:
            raise exc.NoNetworkAvailable(network_type=network_type)
        segmentation_id = found[1]
    else:
        if _is_taken(session, network_type, physnet)(segmentation_id):
            _raise_in_use(network_type, physnet, segmentation_id)
        for rng in ranges:
            if int(rng.first_key, 16) <= segmentation_id <= int(rng.last_key, 16):
                _allocator.claim(session, rng.id, segmentation_id)
    session.add(models.SegmentAllocation(
        network_id=network_id, network_type=network_type, physical_network=physnet,
        segmentation_id=segmentation_id))
    try:
        session.flush()
    except db_exc.DBDuplicateEntry as e:
        if not requested:
            # A concurrent request took the id we found: try again from the start.
            raise db_exc.RetryRequest(e) from e
        _raise_in_use(network_type, physnet, segmentation_id)
    return None if network_type == constants.TYPE_FLAT else segmentation_id


def _raise_in_use(network_type: str, physnet: str, segmentation_id: int):
    if network_type == constants.TYPE_FLAT:
        raise exc.FlatNetworkInUse(physical_network=physnet)
    raise exc.SegmentationIdInUse(network_type=network_type, segmentation_id=segmentation_id)


def release(session: orm.Session, network_id: str) -> None:
    """Free a deleted network's segment for reuse."""
    row = session.get(models.SegmentAllocation, network_id)
    if row is None:
        return
    for rng in _ranges_for(session, row.network_type, row.physical_network):
        if int(rng.first_key, 16) <= row.segmentation_id <= int(rng.last_key, 16):
            _allocator.release(session, rng.id, row.segmentation_id)
            break
    session.delete(row)
