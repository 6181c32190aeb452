"""HTTP error mapping: the service's typed errors as Neutron error documents.

Nothing below the API knows HTTP; this module is the one place that turns an
error's ``kind`` into a status code. Bodies have Neutron's shape,
``{"NeutronError": {"type", "message", "detail"}}``, so clients print the
message a user can act on.
"""

from __future__ import annotations

import json
import logging

import webob

from naas_lib import exceptions as exc

LOG = logging.getLogger(__name__)

STATUS_BY_KIND = {
    "bad_request": 400,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "unavailable": 503,
}

# Seconds a client should wait before retrying a request refused because the
# database is unavailable (the library has already retried for a while).
RETRY_AFTER_SECONDS = 5


class HTTPError(Exception):
    """An error the API itself raises (malformed body, unknown path, precondition)."""

    def __init__(self, status: int, error_type: str, message: str, detail: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})
        self.status = status
        self.error_type = error_type
        self.message = message
        self.detail = detail


def error_response(status: int, error_type: str, message: str,
                   detail: str = "") -> webob.Response:
    """A JSON error response in Neutron's format."""
    body = {"NeutronError": {"type": error_type, "message": message, "detail": detail}}
    return webob.Response(status=status, content_type="application/json", charset="utf-8",
                          body=json.dumps(body).encode())


def status_of(error: exc.NaasError, precondition: bool = False) -> int:
    """HTTP status of a service error; a failed If-Match revision is 412."""
    if precondition and isinstance(error, exc.RevisionConflict):
        return 412
    return STATUS_BY_KIND.get(error.kind, 500)


def from_service_error(error: exc.NaasError, precondition: bool = False) -> webob.Response:
    """The Neutron error document of ``error``.

    An unavailable database is 503 with ``Retry-After``: nothing changed and
    the same request may succeed later. A concurrent change that outlasted
    the library's retries is a 409 (``ConcurrentModification`` is a conflict).
    """
    status = status_of(error, precondition)
    retryable = isinstance(error, exc.DatabaseUnavailable)
    if status >= 500 and not retryable:
        LOG.error("Request failed: %s: %s", type(error).__name__, error.message)
    elif retryable:
        LOG.warning("Request refused: %s", error.message)
    response = error_response(status, type(error).__name__, error.message)
    if retryable:
        response.headers["Retry-After"] = str(getattr(error, "retry_after", RETRY_AFTER_SECONDS))
    return response


def from_http_error(error: HTTPError) -> webob.Response:
    response = error_response(error.status, error.error_type, error.message, error.detail)
    response.headers.update(error.headers)
    return response


def internal_error() -> webob.Response:
    """The answer to a bug: no traceback or internals on the wire."""
    return error_response(500, "HTTPInternalServerError",
                          "Request failed: internal server error while processing your request.")
