"""Configuration options of naas_lib, registered in named groups.

Options are registered on a ``ConfigOpts`` handed in by the caller (never on
a global object at import time), so a Nova process, the API server and tests
can each build services from their own configuration.
"""

from __future__ import annotations

from oslo_config import cfg
from oslo_db import options as db_options

DEFAULT_SQLITE_NAME = "naas.sqlite"

core_opts = [
    cfg.StrOpt(
        "host",
        help="Name of this host as ports are bound to it (binding:host_id). Empty for a "
        "process with no host of its own, such as the API server.",
    ),
    cfg.StrOpt(
        "driver",
        default="noop",
        help="Name of the dataplane driver to load from the naas_lib.drivers entry-point "
        "namespace. Only this one driver is loaded.",
    ),
    cfg.ListOpt(
        "service_plugins",
        default=[],
        help="Names of in-process service plugins to load from the naas_lib.services "
        "entry-point namespace at start-up.",
    ),
]

network_opts = [
    cfg.ListOpt(
        "type_drivers",
        default=["local", "flat", "vxlan", "vlan"],
        help="Network types this deployment offers, loaded by name from the "
        "naas_lib.network_types entry-point namespace (only these are loaded).",
    ),
    cfg.ListOpt(
        "tenant_network_types",
        default=["vxlan", "local"],
        help="Network types tried in order for a network created without provider "
        "attributes; the first one with a free segment is used.",
    ),
    cfg.ListOpt(
        "vni_ranges",
        default=["1:16777215"],
        help="Ranges of VXLAN network identifiers (MIN:MAX) available to tenant networks. "
        "Stored in the database when it is first set up; every host must agree.",
    ),
    cfg.ListOpt(
        "network_vlan_ranges",
        default=[],
        help="Physical networks with VLAN ranges, as PHYSNET:MIN:MAX (or PHYSNET alone for "
        "provider-only use).",
    ),
    cfg.ListOpt(
        "flat_networks",
        default=[],
        help="Physical networks on which flat networks may be created; '*' allows any.",
    ),
    cfg.IntOpt(
        "global_physnet_mtu",
        default=1500,
        min=68,
        help="MTU of the underlying physical network. A network's MTU defaults to this "
        "minus the overhead of its encapsulation.",
    ),
    cfg.DictOpt(
        "physical_network_mtus",
        default={},
        help="Per physical network MTU overrides, PHYSNET:MTU.",
    ),
    cfg.StrOpt(
        "base_mac",
        default="fa:16:3e:00:00:00",
        help="Base MAC address for generated port MACs. Octets that are non-zero in the "
        "base are kept; the rest are random. Stored in the database when it is first set "
        "up; every host must agree.",
    ),
    cfg.IntOpt(
        "max_allocation_retries",
        default=25,
        min=0,
        help="How often an operation that lost a race for an address, MAC or segment id "
        "is retried (after a short random back-off growing to 0.25 s) before the error is "
        "raised. Only contention retries: an exhausted pool fails at once.",
    ),
]

host_opts = [
    cfg.IntOpt(
        "host_down_time",
        default=75,
        min=1,
        help="Seconds after its last heartbeat at which a host is treated as gone by the "
        "others (its forwarding entries are removed).",
    ),
]

NETWORK_GROUP = "network"
HOSTS_GROUP = "hosts"


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every core option group on ``conf``; safe to call twice."""
    conf.register_opts(core_opts)
    conf.register_opts(network_opts, group=NETWORK_GROUP)
    conf.register_opts(host_opts, group=HOSTS_GROUP)
    db_options.set_defaults(conf)


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """naas's own core groups (the API and drivers list theirs through their entry points)."""
    return [
        ("DEFAULT", list(core_opts)),
        (NETWORK_GROUP, list(network_opts)),
        (HOSTS_GROUP, list(host_opts)),
    ]
