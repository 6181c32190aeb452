"""Discovery documents: the API version, its resources and its extensions.

Clients (keystoneauth's version discovery, openstacksdk) read ``GET /`` to
find the ``v2.0`` endpoint, then ``/v2.0/extensions`` to learn what the
server supports. The extension list names what this API really implements.
"""

from __future__ import annotations

from typing import Any

VERSION = "v2.0"
UPDATED = "2024-01-01T00:00:00Z"

COLLECTIONS = (("network", "networks"), ("subnet", "subnets"), ("port", "ports"),
               ("security_group", "security_groups"),
               ("security_group_rule", "security_group_rules"))
#: The URL path of a collection where it differs from the collection's name.
PATHS = {"security_groups": "security-groups", "security_group_rules": "security-group-rules"}
#: Collections whose items cannot be updated (Neutron's rules are immutable).
NO_UPDATE = frozenset({"security_group_rules"})


def path(collection: str) -> str:
    """The URL path segment of a collection (``security_groups`` -> ``security-groups``)."""
    return PATHS.get(collection, collection)

_EXTENSIONS = (
    ("provider", "Provider Network",
     "Network type, segmentation id and physical network of a network."),
    ("binding", "Port Binding",
     "The host a port is bound to and the VIF type and details its driver chose."),
    ("binding-extended", "Port Bindings Extended",
     "A port's bindings per host (one ACTIVE, INACTIVE ones while it moves): "
     "/v2.0/ports/{id}/bindings."),
    ("net-mtu", "Network MTU", "The MTU of a network, read-only after creation."),
    ("project-id", "project_id field enabled",
     "Resources carry project_id next to the older tenant_id."),
    ("standard-attr-revisions", "Resource revision numbers",
     "Every resource has a revision_number that grows with each change."),
    ("revision-if-match", "If-Match constraints based on revision_number",
     "Updates and deletes honour If-Match: revision_number=N and answer 412 otherwise."),
    ("standard-attr-timestamp", "Resource timestamps",
     "Every resource has created_at and updated_at."),
    ("standard-attr-description", "Standard attribute description",
     "Networks, subnets and ports have a description."),
    ("pagination", "Pagination support", "limit and marker with next/previous links."),
    ("sorting", "Sorting support", "sort_key and sort_dir on lists."),
    ("filter-validation", "Filter parameters validation",
     "An unknown filter attribute is refused with 400."),
    ("security-group", "security-group",
     "Stateful security groups and rules; each project has a default group."),
    ("port-security", "Port Security",
     "port_security_enabled on networks and ports: anti-spoofing and security groups."),
    ("allowed-address-pairs", "Allowed Address Pairs",
     "Extra IP addresses or CIDRs (with a MAC) a port may send from."),
)


def _link(href: str, rel: str = "self") -> dict[str, str]:
    return {"href": href, "rel": rel}


def versions(app_url: str) -> dict[str, Any]:
    """``GET /``: the one API version, with the ``self`` link clients build on."""
    return {"versions": [{"id": VERSION, "status": "CURRENT",
                          "links": [_link(f"{app_url}/{VERSION}/")]}]}


def resources(app_url: str) -> dict[str, Any]:
    """``GET /v2.0/``: the collections of this version."""
    return {"resources": [{"name": name, "collection": coll,
                           "links": [_link(f"{app_url}/{VERSION}/{path(coll)}")]}
                          for name, coll in COLLECTIONS]}


def _extension(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED,
            "links": []}


def extensions() -> dict[str, Any]:
    return {"extensions": [_extension(*e) for e in _EXTENSIONS]}


def extension(alias: str) -> dict[str, Any] | None:
    """One extension by alias, or None when the API does not have it."""
    for e in _EXTENSIONS:
        if e[0] == alias:
            return {"extension": _extension(*e)}
    return None
