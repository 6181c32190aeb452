"""Load network types by name from the ``naas_lib.network_types`` entry points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stevedore import driver as stevedore_driver

from naas_lib import exceptions as exc
from naas_lib.network_types.base import NetworkType
from naas_lib.network_types.segment_pool import IdRange

NAMESPACE = "naas_lib.network_types"


def physical_mtu(global_mtu: int, physnet_mtus: Mapping[str, int],
                 physical_network: str | None) -> int:
    """The MTU of the wire a network rides on."""
    if physical_network and physical_network in physnet_mtus:
        return int(physnet_mtus[physical_network])
    return global_mtu


def load_type_class(name: str) -> type[NetworkType]:
    """The class behind entry point ``name`` (InvalidInput when none is installed)."""
    try:
        cls = stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=False).driver
    except Exception as e:  # NoMatches, an unimportable plugin
        raise exc.InvalidInput(field="network_type",
                               reason=f"{name!r} is not an available network type ({e})") from e
    if not (isinstance(cls, type) and issubclass(cls, NetworkType)):
        raise exc.InvalidInput(field="network_type",
                               reason=f"{name!r} is not a naas_lib NetworkType")
    return cls


class TypeManager:
    """The network types of one service: the configured ones, built once with ``[network]``."""

    def __init__(self, conf: Any,
                 classes: Mapping[str, type[NetworkType]] | None = None) -> None:
        self.conf = conf
        names = list(dict.fromkeys(list(conf.type_drivers)))
        self.types: dict[str, NetworkType] = {}
        for name in names:
            cls = (classes or {}).get(name) or load_type_class(name)
            self.types[name] = cls(conf)
        for name in conf.tenant_network_types:
            if name not in self.types:
                raise exc.InvalidInput(field="tenant_network_types",
                                       reason=f"unknown network type {name!r}")

    def get(self, name: Any) -> NetworkType:
        """The type called ``name``; InvalidInput for one that is not configured."""
        found = self.types.get(name) if isinstance(name, str) else None
        if found is None:
            raise exc.InvalidInput(field="network_type",
                                   reason=f"{name!r} is not one of {', '.join(self.types)}")
        return found

    def tenant_types(self) -> list[str]:
        return list(self.conf.tenant_network_types)

    def id_ranges(self) -> Sequence[IdRange]:
        return [r for t in self.types.values() for r in t.id_ranges()]

    def settings(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for t in self.types.values():
            merged.update(t.settings())
        return merged

    def max_mtu(self, name: str, physical_network: str | None) -> int:
        """The largest guest MTU of a network of type ``name`` on ``physical_network``."""
        wire = physical_mtu(self.conf.global_physnet_mtu, self.conf.physical_network_mtus,
                            physical_network)
        return self.get(name).max_mtu(wire)
