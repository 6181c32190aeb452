"""naas_lib: Network as a Service for virtual machines, embedded in OpenStack Nova.

The public door is :class:`NetworkService`; every call takes a
:class:`RequestContext` first.
"""

from naas_lib.context import RequestContext, get_admin_context
from naas_lib.service import NetworkService

__all__ = ["NetworkService", "RequestContext", "get_admin_context"]
