"""The one exception hierarchy of naas_lib.

Every error a caller can act on is a subclass of :class:`NaasError`, built
from a message template filled with keyword arguments. Nothing here knows
about HTTP: the REST module maps classes to status codes through the
``kind`` attribute (``not_found``, ``conflict``, ``bad_request``,
``forbidden``, ``unavailable``).
"""

from __future__ import annotations

from typing import Any


class NaasError(Exception):
    """Base class: ``msg_fmt`` filled with the constructor's keyword arguments."""

    msg_fmt = "An unknown error occurred."
    kind = "internal"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError, ValueError):
                # A template/argument mismatch is a bug in the raiser; keep the
                # template rather than hide the original error behind a new one.
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


# -- not found ---------------------------------------------------------------


class NotFound(NaasError):
    msg_fmt = "Resource could not be found."
    kind = "not_found"


class NetworkNotFound(NotFound):
    msg_fmt = "Network %(net_id)s could not be found."


class SubnetNotFound(NotFound):
    msg_fmt = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    msg_fmt = "Port %(port_id)s could not be found."


class AttachmentNotFound(NotFound):
    msg_fmt = "Port %(port_id)s has no attachment."


class HostNotFound(NotFound):
    msg_fmt = "Host %(host)s could not be found."


class ServiceNotFound(NotFound):
    msg_fmt = "Service %(service_id)s could not be found."


# -- conflicts (state of the world refuses the request) ------------------------


class Conflict(NaasError):
    msg_fmt = "The request conflicts with the current state."
    kind = "conflict"


class NetworkInUse(Conflict):
    msg_fmt = "Unable to complete operation on network %(net_id)s: it has attached ports."


class PortInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on port %(port_id)s: it is attached to interface "
        "%(interface_id)s."
    )


class AlreadyAttached(Conflict):
    msg_fmt = "Port %(port_id)s is already attached to interface %(interface_id)s."


class InterfaceInUse(Conflict):
    msg_fmt = "Interface %(interface_id)s is already attached to port %(port_id)s."


class SubnetInUse(Conflict):
    msg_fmt = "Unable to delete subnet %(subnet_id)s: %(count)s address(es) are allocated."


class IpAddressInUse(Conflict):
    msg_fmt = "IP address %(ip_address)s is already allocated in subnet %(subnet_id)s."


class MacAddressInUse(Conflict):
    msg_fmt = "MAC address %(mac)s is already in use on network %(net_id)s."


class IpAddressGenerationFailure(Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class SegmentationIdInUse(Conflict):
    msg_fmt = "Segmentation id %(segmentation_id)s of type %(network_type)s is already in use."


class NoNetworkAvailable(Conflict):
    msg_fmt = "No %(network_type)s segmentation id is available for a new network."


class FlatNetworkInUse(Conflict):
    msg_fmt = "Physical network %(physical_network)s already carries a flat network."


class RevisionConflict(Conflict):
    """The caller's ``expected_revision`` is not the stored one; nothing changed."""

    msg_fmt = (
        "%(resource)s %(resource_id)s is at revision %(current)s, not the expected "
        "revision %(expected)s."
    )


class ConcurrentModification(Conflict):
    msg_fmt = "%(resource)s %(resource_id)s was changed concurrently; retry the request."


class ServiceInUse(Conflict):
    msg_fmt = "Service %(service_id)s is associated with network %(net_id)s already."


# -- bad input ---------------------------------------------------------------


class BadRequest(NaasError):
    msg_fmt = "Bad %(resource)s request: %(reason)s."
    kind = "bad_request"


class InvalidInput(BadRequest):
    """A field value is malformed or out of range."""

    msg_fmt = "Invalid value for %(field)s: %(reason)s."


class UnknownField(BadRequest):
    msg_fmt = "Unknown attribute %(field)s for %(resource)s."


class RequestedStateInvalid(BadRequest):
    msg_fmt = "Requested state of %(resource)s is invalid: %(reason)s."


class InvalidCIDR(InvalidInput):
    msg_fmt = "Invalid CIDR %(cidr)s: %(reason)s."


class OverlappingSubnet(BadRequest):
    msg_fmt = "CIDR %(cidr)s overlaps with subnet %(subnet_id)s (%(other_cidr)s) on the network."


class InvalidAllocationPool(InvalidInput):
    msg_fmt = "Invalid allocation pool %(pool)s: %(reason)s."


class GatewayConflictWithAllocationPools(BadRequest):
    msg_fmt = "Gateway %(gateway_ip)s is inside allocation pool %(pool)s."


class InvalidIpForSubnet(BadRequest):
    msg_fmt = "IP address %(ip_address)s is not a valid address of subnet %(subnet_id)s."


class InvalidMtu(InvalidInput):
    msg_fmt = "MTU %(mtu)s is out of range: it must be between %(minimum)s and %(maximum)s."


class InvalidNetworkType(BadRequest):
    msg_fmt = "Network type %(network_type)s is not usable: %(reason)s."


# -- authorization -------------------------------------------------------------


class NotAuthorized(NaasError):
    msg_fmt = "Not authorized to %(action)s."
    kind = "forbidden"


# -- binding, drivers and hosts --------------------------------------------------


class BindingFailed(Conflict):
    msg_fmt = "Binding of port %(port_id)s to host %(host)s failed: %(reason)s."


class PortBindingNotFound(NotFound):
    msg_fmt = "Binding for port %(port_id)s on host %(host)s could not be found."


class PortBindingAlreadyExists(Conflict):
    msg_fmt = "Binding for port %(port_id)s on host %(host)s already exists."


class PortBindingAlreadyActive(Conflict):
    msg_fmt = "Binding for port %(port_id)s on host %(host)s is already active."


class PortBindingActive(Conflict):
    msg_fmt = ("Binding for port %(port_id)s on host %(host)s is active; activate another "
               "binding or unbind the port first.")


class DriverError(NaasError):
    msg_fmt = "Driver %(driver)s failed: %(reason)s."
    kind = "unavailable"


class DriverNotFound(NaasError):
    msg_fmt = "Driver %(name)s could not be loaded: %(reason)s. Installed drivers: %(installed)s."
    kind = "internal"


class ServicePluginNotFound(NaasError):
    msg_fmt = "Service plugin %(name)s could not be loaded: %(reason)s."
    kind = "internal"


class ConfigMismatch(NaasError):
    """This host's configuration disagrees with the deployment stored in the DB."""

    msg_fmt = (
        "Configuration of %(option)s (%(configured)s) disagrees with the deployment "
        "setting stored in the database (%(stored)s); refusing to start."
    )
    kind = "internal"


class SchemaOutOfDate(NaasError):
    """The database has not been migrated to the schema this code needs."""

    msg_fmt = (
        "The database schema is at revision %(current)s, this code needs %(head)s: run "
        "'naas-db-manage --database-url URL upgrade head'."
    )
    kind = "internal"


class CallbackFailure(Conflict):
    """A BEFORE or PRECOMMIT subscriber vetoed an operation."""

    msg_fmt = "Operation %(event)s on %(resource)s was refused: %(reason)s."


# -- instance provisioning (naas_lib.virt) ---------------------------------------


class NicAllocationFailed(Conflict):
    """One NIC of an instance could not be provisioned; nothing of the boot is left."""

    msg_fmt = "NIC %(index)s of instance %(instance_id)s could not be allocated: %(reason)s"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.index: int = kwargs.get("index", -1)
        self.reason: str = kwargs.get("reason", "")


class PortsNotActive(NaasError):
    """Waiting for ports to become ACTIVE timed out; ``ports`` maps id to (status, reason)."""

    msg_fmt = "Ports not ACTIVE after %(timeout)ss: %(details)s"
    kind = "unavailable"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        ports = dict(kwargs.get("ports", {}))
        kwargs.setdefault("details", "; ".join(
            f"{pid} is {st}" + (f" ({why})" if why else "") for pid, (st, why) in ports.items()))
        super().__init__(message, **kwargs)
        self.ports: dict[str, tuple[str, str | None]] = ports


# -- port security and security groups -----------------------------------------


class SecurityGroupNotFound(NotFound):
    msg_fmt = "Security group %(id)s does not exist."


class SecurityGroupRuleNotFound(NotFound):
    msg_fmt = "Security group rule %(id)s does not exist."


class SecurityGroupRuleExists(Conflict):
    msg_fmt = "Security group rule already exists. Rule id is %(rule_id)s."


class SecurityGroupInUse(Conflict):
    msg_fmt = "Security Group %(id)s in use: %(reason)s."


class InvalidSecurityGroupRule(BadRequest):
    msg_fmt = "Invalid security group rule: %(reason)s."


class InvalidAllowedAddressPair(BadRequest):
    msg_fmt = "Invalid allowed address pair %(pair)s: %(reason)s."


class PortSecurityUnavailable(NaasError):
    """The host cannot enforce port security (a kernel setting is missing)."""

    msg_fmt = "Port security cannot be enforced on this host: %(reason)s."
    kind = "unavailable"


class DatabaseUnavailable(NaasError):
    """The database could not be reached for a bounded time; nothing was changed.

    Raised after the library's own retries: the operation either never started
    or its transaction was rolled back, so the caller may simply try again.
    ``retry_after`` is a hint in seconds (REST sends it as ``Retry-After``).
    """

    msg_fmt = ("The database is unavailable (%(reason)s); nothing was changed, the request "
               "is safe to retry.")
    kind = "unavailable"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("reason", "connection lost")
        super().__init__(message, **kwargs)
        self.retry_after: int = int(kwargs.get("retry_after", 5))
