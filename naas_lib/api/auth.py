"""Who is calling: request contexts from identity headers, and the auth strategies.

With ``keystone`` the application sits behind keystonemiddleware's
``auth_token``, which validates the token, strips any identity headers the
client sent and sets ``X-Project-Id``, ``X-User-Id`` and ``X-Roles`` itself.
With ``noauth`` those headers are trusted as sent (for tests and private
deployments); a request without ``X-Project-Id`` acts as admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import webob
from oslo_config import cfg

from naas_lib.api.faults import error_response
from naas_lib.context import RequestContext

NOAUTH = "noauth"
KEYSTONE = "keystone"


def _roles(header: str | None) -> list[str]:
    return [r.strip() for r in (header or "").split(",") if r.strip()]


def request_id() -> str:
    return f"req-{uuid.uuid4()}"


def context_from_headers(request: webob.Request, noauth_project: str | None) -> RequestContext:
    """The caller's context; ``noauth_project`` set means a header-less caller is admin."""
    project = request.headers.get("X-Project-Id") or request.headers.get("X-Tenant-Id")
    user = request.headers.get("X-User-Id")
    roles = _roles(request.headers.get("X-Roles"))
    rid = request.environ.get("naas.request_id") or request_id()
    if not project and noauth_project is not None:
        return RequestContext(project_id=noauth_project, user_id=user or "admin",
                              roles=sorted(set(roles) | {"admin"}), is_admin=True,
                              request_id=rid)
    return RequestContext(project_id=project or None, user_id=user or None, roles=roles,
                          request_id=rid)


def confirmed(request: webob.Request) -> bool:
    """Whether auth_token vouched for the caller (it also rejects unvouched requests)."""
    return request.headers.get("X-Identity-Status", "Confirmed") == "Confirmed"


def unauthorized() -> webob.Response:
    return error_response(401, "HTTPUnauthorized",
                          "Authentication required: send a valid X-Auth-Token.")


def wrap_keystone(app: Callable[..., Any], conf: cfg.ConfigOpts) -> Callable[..., Any]:
    """``app`` behind keystonemiddleware's auth_token, configured from ``conf``.

    auth_token reads its own ``[keystone_authtoken]`` group from the same
    configuration the API was started with.
    """
    from keystonemiddleware import auth_token

    return auth_token.AuthProtocol(app, {"oslo_config_config": conf})
