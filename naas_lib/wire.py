"""The one mapping between naas_lib objects and Neutron's v2.0 wire format.

The REST API and the oslo.messaging notifications both show resources "as
the API shows them": Neutron attribute names (``provider:network_type``,
``binding:host_id``, ``tenant_id`` next to ``project_id``) and timestamps as
``YYYY-MM-DDTHH:MM:SSZ``. Keeping both directions of the mapping here means
a notification consumer and an API client see the same document.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

NETWORK = "network"
SUBNET = "subnet"
PORT = "port"
SECURITY_GROUP = "security_group"
SECURITY_GROUP_RULE = "security_group_rule"
RESOURCES = (NETWORK, SUBNET, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE)

# Object attribute -> wire attribute, where they differ.
_TO_WIRE: dict[str, dict[str, str]] = {
    NETWORK: {
        "network_type": "provider:network_type",
        "segmentation_id": "provider:segmentation_id",
        "physical_network": "provider:physical_network",
    },
    SUBNET: {},
    PORT: {
        "binding_host_id": "binding:host_id",
        "binding_profile": "binding:profile",
        "binding_vif_type": "binding:vif_type",
        "binding_vif_details": "binding:vif_details",
    },
    SECURITY_GROUP: {},
    SECURITY_GROUP_RULE: {},
}
_FROM_WIRE: dict[str, dict[str, str]] = {
    res: {w: a for a, w in names.items()} for res, names in _TO_WIRE.items()
}

# Object attributes that are internal and not part of the Neutron document.
_HIDDEN: dict[str, frozenset[str]] = {
    NETWORK: frozenset(),
    SUBNET: frozenset(),
    PORT: frozenset({"status_reason"}),
    SECURITY_GROUP: frozenset(),
    SECURITY_GROUP_RULE: frozenset(),
}

# Attributes every wire document carries although the object has no field.
_DERIVED = ("tenant_id",)


def format_time(value: datetime.datetime) -> str:
    """UTC timestamp as Neutron writes it: seconds precision and a ``Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, datetime.datetime):
        return format_time(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check(resource: str) -> None:
    if resource not in _TO_WIRE:
        raise ValueError(f"unknown resource {resource!r}")


def to_wire(resource: str, obj: Any) -> dict[str, Any]:
    """The wire document of a resource object, or of a partial dict of its fields.

    A dict (what the service returns for a ``fields=`` query) is mapped key
    by key, so only the requested attributes appear; ``tenant_id`` is added
    whenever ``project_id`` is present.
    """
    _check(resource)
    renames = _TO_WIRE[resource]
    hidden = _HIDDEN[resource]
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for name, value in obj.items():
            if name not in hidden:
                out[renames.get(name, name)] = _plain(value)
    else:
        # An object's values come out plain already (one pass, not two).
        items = obj.plain_items() if hasattr(obj, "plain_items") else obj.to_dict().items()
        for name, value in items:
            if name not in hidden:
                out[renames.get(name, name)] = value
    if "project_id" in out:
        out["tenant_id"] = out["project_id"]
    return out


def network_to_wire(obj: Any) -> dict[str, Any]:
    """A network as Neutron shows it (provider attributes prefixed)."""
    return to_wire(NETWORK, obj)


def subnet_to_wire(obj: Any) -> dict[str, Any]:
    """A subnet as Neutron shows it."""
    return to_wire(SUBNET, obj)


def port_to_wire(obj: Any) -> dict[str, Any]:
    """A port as Neutron shows it (binding attributes prefixed)."""
    return to_wire(PORT, obj)


def security_group_to_wire(obj: Any) -> dict[str, Any]:
    """A security group with its rules, as Neutron shows it."""
    return to_wire(SECURITY_GROUP, obj)


def security_group_rule_to_wire(obj: Any) -> dict[str, Any]:
    """A security group rule as Neutron shows it."""
    return to_wire(SECURITY_GROUP_RULE, obj)


def attr_name(resource: str, wire_name: str) -> str:
    """The object attribute behind a wire attribute name (unknown names unchanged)."""
    _check(resource)
    return _FROM_WIRE[resource].get(wire_name, wire_name)


def wire_name(resource: str, attr: str) -> str:
    """The wire attribute name of an object attribute (same name when not renamed)."""
    _check(resource)
    return _TO_WIRE[resource].get(attr, attr)


def attrs_from_wire(resource: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Rename a request body's wire attributes to the service's keyword names.

    Names the mapping does not know are passed through unchanged, so the
    service refuses them with an error naming the attribute the caller sent.
    """
    return {attr_name(resource, k): v for k, v in body.items()}


def fields_from_wire(resource: str, fields: Iterable[str]) -> list[str]:
    """Object field names for a wire ``fields=`` selection (``tenant_id`` -> project_id)."""
    out: list[str] = []
    for f in fields:
        name = "project_id" if f in _DERIVED else attr_name(resource, f)
        if name not in out:
            out.append(name)
    return out


def wire_attributes(resource: str, object_fields: Iterable[str]) -> list[str]:
    """Every wire attribute a resource document may carry, given its object fields."""
    _check(resource)
    names = [wire_name(resource, f) for f in object_fields if f not in _HIDDEN[resource]]
    return names + [d for d in _DERIVED if d not in names]


def attachment_to_wire(obj: Any) -> dict[str, Any]:
    """An attachment (port, interface, instance, host) as notifications and the CLI show it."""
    data = obj if isinstance(obj, Mapping) else obj.to_dict()
    return {k: _plain(v) for k, v in data.items()}


def service_to_wire(obj: Any) -> dict[str, Any]:
    """A registered higher-layer service, with ``tenant_id`` next to ``project_id``."""
    out = attachment_to_wire(obj)
    if "project_id" in out:
        out["tenant_id"] = out["project_id"]
    return out
