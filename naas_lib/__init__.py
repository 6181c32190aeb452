"""naas_lib: Network as a Service for virtual machines, embedded in OpenStack Nova.

The public door is :class:`NetworkService`; every call takes a
:class:`RequestContext` first.

The names below are imported on first use (PEP 562), so that importing a
light submodule (``naas_lib.constants``, the ``naas`` command's parser) does
not load the database and policy stack behind :class:`NetworkService`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from naas_lib.context import RequestContext, get_admin_context
    from naas_lib.service import NetworkService

__all__ = ["NetworkService", "RequestContext", "get_admin_context"]

#: Public name -> module that defines it.
_HOMES = {
    "NetworkService": "naas_lib.service",
    "RequestContext": "naas_lib.context",
    "get_admin_context": "naas_lib.context",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
