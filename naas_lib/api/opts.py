"""Options of the REST API process: ``[DEFAULT] auth_strategy`` and the ``[api]`` group."""

from __future__ import annotations

from oslo_config import cfg

API_GROUP = "api"

auth_opts = [
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=[("keystone", "Validate tokens with keystonemiddleware's auth_token."),
                 ("noauth", "Trust the X-Project-Id, X-User-Id and X-Roles headers; a "
                            "request without X-Project-Id acts as admin.")],
        help="How the REST API authenticates callers.",
    ),
]

api_opts = [
    cfg.HostAddressOpt("host", default="127.0.0.1",
                       help="Address the REST API listens on."),
    cfg.PortOpt("port", default=9696, help="TCP port the REST API listens on."),
    cfg.IntOpt("threads", default=16, min=1,
               help="Worker threads of the WSGI server (concurrent requests) in each "
                    "worker process."),
    cfg.IntOpt("workers", default=1, min=1,
               help="Worker processes serving the API on the same address "
                    "(SO_REUSEPORT), each with its own threads and database pool; "
                    "requests then run in parallel beyond one interpreter lock. See "
                    "the deployment guide for the recommended values."),
    cfg.FloatOpt("drain_timeout", default=30.0, min=0.0,
                 help="On SIGTERM or SIGINT, seconds the server keeps answering the "
                      "requests it accepted (queued ones included) after it stops "
                      "accepting connections; what is left then is closed. A second "
                      "signal exits at once."),
    cfg.IntOpt("max_request_body_size", default=114688, min=1024,
               help="Largest request body in bytes; a larger one is answered 413."),
    cfg.IntOpt("pagination_max_limit", default=1000, min=1,
               help="Largest page a list returns; a larger ``limit`` is lowered to it."),
    cfg.StrOpt("noauth_project_id", default="admin",
               help="With auth_strategy=noauth, the project of a request that sends no "
                    "X-Project-Id header (it acts as admin), so clients configured with "
                    "auth_type none can create resources."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the API options on ``conf``; safe to call twice."""
    conf.register_opts(auth_opts)
    conf.register_opts(api_opts, group=API_GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """API options for oslo-config-generator (include in the ``oslo.config.opts`` entry)."""
    return [("DEFAULT", list(auth_opts)), (API_GROUP, list(api_opts))]
