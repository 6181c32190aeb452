"""Who is calling: request contexts from identity headers, and the auth strategies.

With ``keystone`` the application sits behind keystonemiddleware's
``auth_token``, which validates the token, strips any identity headers the
client sent and sets ``X-Project-Id``, ``X-User-Id`` and ``X-Roles`` itself.
With ``noauth`` those headers are trusted as sent (for tests and private
deployments); a request without ``X-Project-Id`` acts as admin.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import webob
from oslo_config import cfg

from naas_lib.api.errors import error_response
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


# Error types of the answers auth_token gives itself, by status.
_MIDDLEWARE_ERRORS = {401: "HTTPUnauthorized", 400: "HTTPBadRequest",
                      503: "HTTPServiceUnavailable"}
_MIDDLEWARE_MESSAGES = {
    401: "Authentication required: send a valid X-Auth-Token.",
    503: "The identity service is unavailable; retry later.",
}


def _is_neutron_error(response: webob.Response) -> bool:
    if response.content_type != "application/json":
        return False
    try:
        return "NeutronError" in json.loads(response.body or b"{}")
    except ValueError:
        return False


class NeutronErrorBodies:
    """Give auth_token's own error answers (401 above all) the NeutronError shape.

    keystonemiddleware writes its own body; clients of this API parse
    ``{"NeutronError": ...}`` on every error, so the status and headers
    (``WWW-Authenticate``) are kept and only the body is rewritten.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        response = webob.Request(environ).get_response(self.app)
        if response.status_int >= 400 and not _is_neutron_error(response):
            status = response.status_int
            fixed = error_response(
                status, _MIDDLEWARE_ERRORS.get(status, "HTTPError"),
                _MIDDLEWARE_MESSAGES.get(status, response.status))
            for name in ("WWW-Authenticate", "Retry-After"):
                if name in response.headers:
                    fixed.headers[name] = response.headers[name]
            response = fixed
        return response(environ, start_response)


def wrap_keystone(app: Callable[..., Any], conf: cfg.ConfigOpts) -> Callable[..., Any]:
    """``app`` behind keystonemiddleware's auth_token, configured from ``conf``.

    auth_token reads its own ``[keystone_authtoken]`` group from the same
    configuration the API was started with. Its own error answers are
    rewritten into the NeutronError shape (:class:`NeutronErrorBodies`).
    """
    from keystonemiddleware import auth_token

    return NeutronErrorBodies(auth_token.AuthProtocol(app, {"oslo_config_config": conf}))
