"""Names and numbers shared across layers."""

from __future__ import annotations

# Network types.
TYPE_LOCAL = "local"
TYPE_FLAT = "flat"
TYPE_VXLAN = "vxlan"
TYPE_VLAN = "vlan"
NETWORK_TYPES = (TYPE_LOCAL, TYPE_FLAT, TYPE_VXLAN, TYPE_VLAN)

# Segmentation id bounds.
MIN_VNI, MAX_VNI = 1, 2**24 - 1
MIN_VLAN, MAX_VLAN = 1, 4094

# Encapsulation overhead in bytes. VXLAN over IPv4: outer IPv4 (20) + UDP (8)
# + VXLAN header (8) + inner Ethernet (14) = 50 (RFC 7348 framing).
VXLAN_IPV4_OVERHEAD = 50
ENCAP_OVERHEAD = {TYPE_VXLAN: VXLAN_IPV4_OVERHEAD, TYPE_FLAT: 0, TYPE_VLAN: 0, TYPE_LOCAL: 0}

MIN_MTU_IPV4 = 68
MIN_MTU_IPV6 = 1280

# Port statuses.
PORT_STATUS_ACTIVE = "ACTIVE"
PORT_STATUS_BUILD = "BUILD"
PORT_STATUS_DOWN = "DOWN"
PORT_STATUS_ERROR = "ERROR"
PORT_STATUSES = (PORT_STATUS_ACTIVE, PORT_STATUS_BUILD, PORT_STATUS_DOWN, PORT_STATUS_ERROR)

# Network statuses.
NET_STATUS_ACTIVE = "ACTIVE"
NET_STATUS_DOWN = "DOWN"
NET_STATUS_BUILD = "BUILD"
NET_STATUS_ERROR = "ERROR"
NET_STATUSES = (NET_STATUS_ACTIVE, NET_STATUS_DOWN, NET_STATUS_BUILD, NET_STATUS_ERROR)

# VIF types a binding may report.
VIF_TYPE_UNBOUND = "unbound"
VIF_TYPE_BINDING_FAILED = "binding_failed"
VIF_TYPE_TAP = "tap"
VIF_TYPE_BRIDGE = "bridge"
VIF_TYPE_VETH = "veth"
VIF_TYPE_NOOP = "noop"

DEVICE_OWNER_COMPUTE = "compute:nova"
DEVICE_OWNER_DHCP = "network:dhcp"
DEVICE_OWNER_ROUTER = "network:router_interface"

# Name prefixes of host devices the drivers own (IFNAMSIZ is 16 with the NUL).
IFNAMSIZ = 15
TAP_PREFIX = "tap"
#: Nova names a VIF's device ``tap`` + 11 characters of the port id (14 in all).
NOVA_DEVNAME_LEN = 14
BRIDGE_PREFIX = "brq"
VXLAN_PREFIX = "vxn"
VETH_HOST_PREFIX = "nvh"

#: Kinds of higher-layer service that register themselves (firewall, NAT, ...).
SERVICE_TYPES = ("firewall", "nat", "vpn", "load-balancer", "dhcp", "other")
