"""SQLAlchemy models: the database is the intent of the whole deployment.

Uniqueness that matters under concurrency lives here as constraints, never in
process-local locks: one address per (subnet, ip), one MAC per (network, mac),
one owner per (segment type, physical network, id), one attachment per port
and one port per interface.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql


def utcnow() -> datetime.datetime:
    """Naive UTC now, the form stored in every timestamp column."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


# Microseconds on every backend (MariaDB's DATETIME keeps whole seconds
# unless asked), so what is read back equals what was written.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ID = sa.String(36)
NAME = sa.String(255)

# Explicit constraint names keep migrations and models comparable on every backend.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uniq_%(table_name)s0%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(orm.DeclarativeBase):
    metadata = metadata


class _Standard:
    """Columns every customer-visible resource carries."""

    revision_number: orm.Mapped[int] = orm.mapped_column(sa.BigInteger, nullable=False, default=1)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        TIMESTAMP, nullable=False, default=utcnow
    )
    updated_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        TIMESTAMP, nullable=False, default=utcnow
    )


class Network(_Standard, Base):
    __tablename__ = "networks"

    id: orm.Mapped[str] = orm.mapped_column(ID, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, index=True)
    name: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    description: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    admin_state_up: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    shared: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    mtu: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    network_type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    segmentation_id: orm.Mapped[int | None] = orm.mapped_column(sa.Integer, nullable=True)
    physical_network: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    #: New ports inherit it (Neutron's port-security extension); on by default.
    port_security_enabled: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, nullable=False, default=True, server_default=sa.true())


class SegmentAllocation(Base):
    """Who owns a segment: flat networks use id 0, so one flat network per physnet."""

    __tablename__ = "segment_allocations"
    __table_args__ = (sa.UniqueConstraint("network_type", "physical_network", "segmentation_id"),)

    network_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    network_type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    # '' rather than NULL, so the unique constraint holds for vxlan too.
    physical_network: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    segmentation_id: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)


class SegmentRange(Base):
    """A configured id range and its high-water mark (next never-used id)."""

    __tablename__ = "segment_ranges"
    __table_args__ = (sa.UniqueConstraint("network_type", "physical_network", "first_key"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    network_type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    physical_network: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    first_key: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    last_key: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    next_key: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), nullable=True)


class SegmentFree(Base):
    """Ids below a range's high-water mark that were released."""

    __tablename__ = "segment_free"

    range_id: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, sa.ForeignKey("segment_ranges.id", ondelete="CASCADE"), primary_key=True
    )
    value_key: orm.Mapped[str] = orm.mapped_column(sa.String(32), primary_key=True)


class Subnet(_Standard, Base):
    __tablename__ = "subnets"

    id: orm.Mapped[str] = orm.mapped_column(ID, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, index=True)
    network_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("networks.id"), nullable=False, index=True
    )
    name: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    description: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    ip_version: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    cidr: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    gateway_ip: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    enable_dhcp: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    # Neutron's IPv6 modes (slaac, dhcpv6-stateful, dhcpv6-stateless); NULL when unset.
    ipv6_ra_mode: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), nullable=True)
    ipv6_address_mode: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), nullable=True)


class AllocationPool(Base):
    """An allocation pool of a subnet and its allocator state.

    Keys are fixed-width hex (32 digits) so IPv4 and IPv6 sort and compare
    as strings on every backend. ``next_key`` is where the pool's lanes
    (:class:`IpLane`) start: the lowest address never handed out when they
    were made (NULL when past the end); it no longer moves after that.
    """

    __tablename__ = "allocation_pools"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    subnet_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    first_ip: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    last_ip: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    first_key: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    last_key: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    next_key: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), nullable=True)
    #: Until when (Unix seconds) writers spread over the lanes instead of all
    #: taking the lowest: set by a writer of any process that lost an address
    #: race here, read with the pool by every allocation (see naas_lib.ipam.hot).
    hot_until: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger, nullable=True)


class IpLane(Base):
    """One of several high-water marks of a pool, so writers do not all update one row.

    Lane ``j`` of a pool whose lanes start at ``B`` hands out ``B + j``,
    ``B + j + n``, ``B + j + 2n``, ... (``n`` lanes); ``next_key`` is its
    lowest value never handed out, NULL when past the pool's end.
    """

    __tablename__ = "ip_lanes"

    pool_id: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, sa.ForeignKey("allocation_pools.id", ondelete="CASCADE"), primary_key=True
    )
    lane: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                              autoincrement=False)
    next_key: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), nullable=True)


class IpFree(Base):
    """Addresses below a pool's high-water mark that were released."""

    __tablename__ = "ip_free"

    pool_id: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, sa.ForeignKey("allocation_pools.id", ondelete="CASCADE"), primary_key=True
    )
    ip_key: orm.Mapped[str] = orm.mapped_column(sa.String(32), primary_key=True)


class DnsNameserver(Base):
    __tablename__ = "dns_nameservers"

    subnet_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    address: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    position: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)


class HostRoute(Base):
    __tablename__ = "host_routes"

    subnet_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    destination: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    nexthop: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)


class Port(_Standard, Base):
    __tablename__ = "ports"
    # The index: a network's ports of one owner (its DHCP reservation) without
    # visiting every network's (migration 0006_scale).
    __table_args__ = (sa.UniqueConstraint("network_id", "mac_address"),
                      sa.Index("ix_ports_network_id_device_owner_device_id",
                               "network_id", "device_owner", "device_id"))

    id: orm.Mapped[str] = orm.mapped_column(ID, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, index=True)
    network_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("networks.id"), nullable=False
    )
    name: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    description: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    mac_address: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    admin_state_up: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    status_reason: orm.Mapped[str | None] = orm.mapped_column(sa.String(255), nullable=True)
    device_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="", index=True)
    device_owner: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    #: Off for ports that existed before port security (their behaviour is kept);
    #: a new port takes its network's value unless the request says.
    port_security_enabled: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false())


class PortBinding(Base):
    """A port bound to a host, as Neutron's port bindings extension has it.

    Every port has exactly one ACTIVE binding (``host`` is "" while the port
    is unbound, as in Neutron) and may have INACTIVE bindings on other hosts
    while it moves. "At most one ACTIVE per port" is a database constraint:
    ``active`` is True on the ACTIVE row and NULL on the others, and
    (port_id, active) is unique; NULLs never collide on SQLite, PostgreSQL
    or MariaDB.
    """

    __tablename__ = "port_bindings"
    __table_args__ = (sa.UniqueConstraint("port_id", "active"),)

    port_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    host: orm.Mapped[str] = orm.mapped_column(NAME, primary_key=True, index=True)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    active: orm.Mapped[bool | None] = orm.mapped_column(sa.Boolean, nullable=True)
    vif_type: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    vif_details: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False, default="{}")
    profile: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False, default="{}")


def _active_binding(column: sa.Column) -> orm.ColumnProperty:
    """A port's attribute read from its ACTIVE binding (a correlated subquery)."""
    return orm.column_property(
        sa.select(column).where(PortBinding.port_id == Port.id, PortBinding.active.is_(True))
        .correlate_except(PortBinding).scalar_subquery())


# The port's binding attributes keep their names; they read the ACTIVE binding
# (filters, sorting and loading work as on columns). The unbound port's host
# is stored as "" and read as None.
Port.binding_host_id = orm.column_property(sa.func.nullif(
    sa.select(PortBinding.host).where(PortBinding.port_id == Port.id,
                                      PortBinding.active.is_(True))
    .correlate_except(PortBinding).scalar_subquery(), ""))
Port.binding_vif_type = _active_binding(PortBinding.vif_type)
Port.binding_vif_details = _active_binding(PortBinding.vif_details)
Port.binding_profile = _active_binding(PortBinding.profile)


class IpAllocation(Base):
    """An address held by a port; (subnet, address) is the primary key."""

    __tablename__ = "ip_allocations"

    subnet_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("subnets.id"), primary_key=True
    )
    ip_address: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    port_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("ports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    network_id: orm.Mapped[str] = orm.mapped_column(ID, nullable=False)


class Attachment(Base):
    """The VIF plugged into a port: at most one per port, one port per VIF."""

    __tablename__ = "attachments"

    port_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    interface_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, unique=True)
    instance_id: orm.Mapped[str | None] = orm.mapped_column(NAME, nullable=True, index=True)
    host: orm.Mapped[str | None] = orm.mapped_column(NAME, nullable=True, index=True)
    # True when the port was created for this attachment (by the boot-time
    # provisioner) and is to be deleted with it.
    owns_port: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        TIMESTAMP, nullable=False, default=utcnow
    )


class DeploymentSetting(Base):
    """Settings every host must agree on (VNI ranges, MAC base), set at first start."""

    __tablename__ = "deployment_settings"

    name: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    value: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)


class Host(Base):
    """A host running naas_lib with a dataplane driver, and its heartbeat."""

    __tablename__ = "hosts"

    name: orm.Mapped[str] = orm.mapped_column(NAME, primary_key=True)
    vxlan_endpoint: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    driver: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    capabilities: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False, default="{}")
    heartbeat_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        TIMESTAMP, nullable=False, default=utcnow
    )


class Service(_Standard, Base):
    """A higher-layer service (firewall, NAT, VPN, ...) registered with NaaS."""

    __tablename__ = "services"

    id: orm.Mapped[str] = orm.mapped_column(ID, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, index=True)
    name: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False)
    service_type: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    description: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")


class ServiceNetworkAssociation(Base):
    __tablename__ = "service_network_associations"

    service_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    network_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        TIMESTAMP, nullable=False, default=utcnow
    )


# -- security groups (issue 11) -----------------------------------------------------


class SecurityGroup(_Standard, Base):
    """A project's named set of rules; ports are its members."""

    __tablename__ = "security_groups"

    id: orm.Mapped[str] = orm.mapped_column(ID, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, index=True)
    name: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    description: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")


class DefaultSecurityGroup(Base):
    """Which group is a project's ``default``: one per project, made on first need."""

    __tablename__ = "default_security_groups"

    project_id: orm.Mapped[str] = orm.mapped_column(NAME, primary_key=True)
    security_group_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=False, unique=True
    )


class SecurityGroupRule(_Standard, Base):
    """One rule; ``rule_key`` is its normalized content, unique within the group,
    so two concurrent requests for the same rule cannot both succeed."""

    __tablename__ = "security_group_rules"
    __table_args__ = (sa.UniqueConstraint("security_group_id", "rule_key"),)

    id: orm.Mapped[str] = orm.mapped_column(ID, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, index=True)
    security_group_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=False
    )
    remote_group_id: orm.Mapped[str | None] = orm.mapped_column(
        ID, sa.ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    direction: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    ethertype: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    protocol: orm.Mapped[str | None] = orm.mapped_column(sa.String(40), nullable=True)
    port_range_min: orm.Mapped[int | None] = orm.mapped_column(sa.Integer, nullable=True)
    port_range_max: orm.Mapped[int | None] = orm.mapped_column(sa.Integer, nullable=True)
    remote_ip_prefix: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    description: orm.Mapped[str] = orm.mapped_column(NAME, nullable=False, default="")
    rule_key: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class PortSecurityGroup(Base):
    """A port's membership of a group; a group with members cannot be deleted."""

    __tablename__ = "port_security_groups"

    port_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("security_groups.id"), primary_key=True, index=True
    )


class AllowedAddressPair(Base):
    """An extra (MAC, IP or CIDR) a port may send from."""

    __tablename__ = "allowed_address_pairs"

    port_id: orm.Mapped[str] = orm.mapped_column(
        ID, sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    mac_address: orm.Mapped[str] = orm.mapped_column(sa.String(32), primary_key=True)
    ip_address: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
