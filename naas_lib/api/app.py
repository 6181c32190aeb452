"""The WSGI application: routing, authentication and error mapping.

:func:`build_app` is the documented factory. It takes a ready
:class:`~naas_lib.NetworkService` (or builds one from the configuration)
and returns a plain WSGI callable, so any WSGI server can serve it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import webob
from oslo_config import cfg

from naas_lib import exceptions as exc
from naas_lib import validation, wire
from naas_lib.api import auth, errors, opts, versions
from naas_lib.api.bindings import BindingsController
from naas_lib.api.controllers import Controller, json_response
from naas_lib.api.ports import PortController
from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)

_PREFIX = "/" + versions.VERSION
_PATHS = "|".join(versions.path(c) for _, c in versions.COLLECTIONS)
_ITEM = re.compile(rf"^/v2\.0/({_PATHS})/([^/]+)$")
_COLLECTION = re.compile(rf"^/v2\.0/({_PATHS})$")
_EXTENSION = re.compile(r"^/v2\.0/extensions/([^/]+)$")
_BINDINGS = re.compile(r"^/v2\.0/ports/([^/]+)/bindings(?:/([^/]+)(/activate)?)?$")

# (path template, methods) of everything the application serves; the OpenAPI
# document is checked against this table by the tests.
ROUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/", ("GET",)),
    ("/v2.0/", ("GET",)),
    ("/v2.0/extensions", ("GET",)),
    ("/v2.0/extensions/{alias}", ("GET",)),
    *((f"/v2.0/{versions.path(c)}", ("GET", "POST")) for _, c in versions.COLLECTIONS),
    *((f"/v2.0/{versions.path(c)}/{{id}}",
       ("GET", "DELETE") if c in versions.NO_UPDATE else ("GET", "PUT", "DELETE"))
      for _, c in versions.COLLECTIONS),
    ("/v2.0/ports/{id}/bindings", ("GET", "POST")),
    ("/v2.0/ports/{id}/bindings/{host}", ("DELETE",)),
    ("/v2.0/ports/{id}/bindings/{host}/activate", ("PUT",)),
)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class NaasAPI:
    """The v2.0 resources; ``noauth_project`` is set only for the noauth strategy."""

    def __init__(self, service: NetworkService, max_limit: int = 1000,
                 max_body: int = 114688, noauth_project: str | None = None) -> None:
        self.service = service
        self.noauth_project = noauth_project
        self.controllers: dict[str, Controller] = {
            "networks": Controller(service, wire.NETWORK, "networks", max_limit, max_body),
            "subnets": Controller(service, wire.SUBNET, "subnets", max_limit, max_body),
            "ports": PortController(service, wire.PORT, "ports", max_limit, max_body),
            "security-groups": Controller(service, wire.SECURITY_GROUP, "security_groups",
                                          max_limit, max_body),
            "security-group-rules": Controller(service, wire.SECURITY_GROUP_RULE,
                                               "security_group_rules", max_limit, max_body),
        }
        self.bindings = BindingsController(service, max_body)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = webob.Request(environ)
        rid = auth.request_id()
        environ["naas.request_id"] = rid
        response = self.handle(request)
        response.headers["X-OpenStack-Request-Id"] = rid
        return response(environ, start_response)

    def handle(self, request: webob.Request) -> webob.Response:
        precondition = "If-Match" in request.headers
        try:
            return self.dispatch(request)
        except errors.HTTPError as e:
            return errors.from_http_error(e)
        except exc.NaasError as e:
            return errors.from_service_error(e, precondition)
        except Exception:
            LOG.exception("Unexpected error serving %s %s", request.method, request.path)
            return errors.internal_error()

    def dispatch(self, request: webob.Request) -> webob.Response:
        try:  # webob decodes lazily; an invalid URL is the client's error
            path = request.path_info
            request.GET  # noqa: B018
        except UnicodeDecodeError:
            raise errors.HTTPError(400, "HTTPBadRequest",
                                   "The request URL is not valid UTF-8.") from None
        if path.endswith(".json"):
            path = path[: -len(".json")]
        method = request.method
        app_url = request.application_url
        if path in ("", "/"):
            self._allow(method, ("GET",))
            return json_response(versions.versions(app_url))
        if not (path == _PREFIX or path.startswith(_PREFIX + "/")):
            raise errors.HTTPError(404, "HTTPNotFound", f"No resource at {path}.")
        if self.noauth_project is None and not auth.confirmed(request):
            return auth.unauthorized()
        ctx = auth.context_from_headers(request, self.noauth_project)
        if path in (_PREFIX, _PREFIX + "/"):
            self._allow(method, ("GET",))
            return json_response(versions.resources(app_url))
        if path == _PREFIX + "/extensions":
            self._allow(method, ("GET",))
            return json_response(versions.extensions())
        m = _EXTENSION.match(path)
        if m:
            self._allow(method, ("GET",))
            doc = versions.extension(m.group(1))
            if doc is None:
                raise errors.HTTPError(404, "ExtensionNotFound",
                                       f"Extension with alias {m.group(1)} does not exist.")
            return json_response(doc)
        m = _COLLECTION.match(path)
        if m:
            controller = self.controllers[m.group(1)]
            self._allow(method, ("GET", "POST"))
            if method == "GET":
                return controller.index(request, ctx)
            return controller.create(request, ctx)
        m = _BINDINGS.match(path)
        if m:
            return self._bindings(request, ctx, *m.groups())
        m = _ITEM.match(path)
        if m:
            controller = self.controllers[m.group(1)]
            rid = validation.lookup("id", m.group(2))
            self._allow(method, ("GET", "DELETE") if controller.collection in versions.NO_UPDATE
                        else ("GET", "PUT", "DELETE"))
            if method == "GET":
                return controller.show(request, ctx, rid)
            if method == "PUT":
                return controller.update(request, ctx, rid)
            return controller.delete(request, ctx, rid)
        raise errors.HTTPError(404, "HTTPNotFound", f"No resource at {path}.")

    def _bindings(self, request: webob.Request, ctx: Any, port_id: str, host: str | None,
                  activate: str | None) -> webob.Response:
        """``/v2.0/ports/{id}/bindings[/{host}[/activate]]``."""
        method = request.method
        if host is None:
            self._allow(method, ("GET", "POST"))
            if method == "GET":
                return self.bindings.index(request, ctx, port_id)
            return self.bindings.create(request, ctx, port_id)
        if activate:
            self._allow(method, ("PUT",))
            return self.bindings.activate(ctx, port_id, host)
        self._allow(method, ("DELETE",))
        return self.bindings.delete(ctx, port_id, host)

    @staticmethod
    def _allow(method: str, allowed: tuple[str, ...]) -> None:
        if method not in allowed:
            raise errors.HTTPError(405, "HTTPMethodNotAllowed",
                                   f"Method {method} is not allowed here; use "
                                   f"{', '.join(allowed)}.",
                                   headers={"Allow": ", ".join(allowed)})


class _VersionsFirst:
    """Serve ``GET /`` without authentication, as Neutron does; the rest behind auth."""

    def __init__(self, api: NaasAPI, protected: WSGIApp) -> None:
        self.api = api
        self.protected = protected

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in ("", "/"):
            return self.api(environ, start_response)
        return self.protected(environ, start_response)


def build_app(conf: cfg.ConfigOpts, service: NetworkService | None = None) -> WSGIApp:
    """The WSGI application for ``conf`` (``[DEFAULT] auth_strategy`` and ``[api]``).

    Without ``service`` one is built from ``conf`` (``[database] connection``;
    the embedded SQLite schema is created on first use). The API process has
    no host of its own: it binds ports to hosts, and those hosts plug them.
    """
    opts.register_opts(conf)
    if service is None:
        service = NetworkService(conf)
    api_conf = conf[opts.API_GROUP]
    noauth = conf.auth_strategy == auth.NOAUTH
    api = NaasAPI(service, max_limit=api_conf.pagination_max_limit,
                  max_body=api_conf.max_request_body_size,
                  noauth_project=api_conf.noauth_project_id if noauth else None)
    if noauth:
        return api
    return _VersionsFirst(api, auth.wrap_keystone(api, conf))


def build_noauth_app(service: NetworkService, **api_options: Any) -> WSGIApp:
    """A noauth application around an existing service (tests, embedding)."""
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([], project="naas", default_config_files=[])
    conf.set_override("auth_strategy", auth.NOAUTH)
    for key, value in api_options.items():
        conf.set_override(key, value, group=opts.API_GROUP)
    return build_app(conf, service)


__all__ = ["ROUTES", "NaasAPI", "build_app", "build_noauth_app"]
