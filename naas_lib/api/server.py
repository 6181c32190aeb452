"""``naas-api``: serve the REST API with cheroot, a production-grade threaded WSGI server.

    naas-api --config-file /etc/naas/naas.conf

reads ``[database] connection``, ``[DEFAULT] auth_strategy`` and
``[api] host``/``port``/``threads``. The embedded SQLite schema is created on
first use, as the library does. SIGTERM and SIGINT stop the server after the
requests in flight.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from cheroot import wsgi
from oslo_config import cfg

from naas_lib import conf as naas_conf
from naas_lib import exceptions as exc
from naas_lib.api import app as api_app
from naas_lib.api import opts
from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)


def load_conf(argv: Sequence[str]) -> cfg.ConfigOpts:
    """Parse the command line (``--config-file``) into a fresh ``ConfigOpts``."""
    conf = cfg.ConfigOpts()
    naas_conf.register_opts(conf)
    opts.register_opts(conf)
    conf(list(argv), project="naas", prog="naas-api", default_config_files=[])
    return conf


def make_server(conf: cfg.ConfigOpts, service: NetworkService | None = None) -> wsgi.Server:
    """A cheroot server around the application; bound when ``prepare()`` is called."""
    application = api_app.build_app(conf, service)
    api_conf = conf[opts.API_GROUP]
    return wsgi.Server((api_conf.host, api_conf.port), application,
                       numthreads=api_conf.threads, server_name="naas-api")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``naas-api``; returns the exit status."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        conf = load_conf(sys.argv[1:] if argv is None else argv)
        if conf.host:
            LOG.warning("[DEFAULT] host=%s is ignored: the API process binds ports to "
                        "hosts but plugs none itself", conf.host)
            conf.set_override("host", None)
        service = NetworkService(conf)
    except (cfg.Error, exc.NaasError) as e:
        print(f"naas-api: {e}", file=sys.stderr)
        return 2
    server = make_server(conf, service)

    def stop(signum: int, frame: Any) -> None:
        # Unwind serve() in the main thread; cheroot's own stop() runs below,
        # outside the signal handler (calling it here would deadlock).
        LOG.info("Signal %d received, stopping", signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.prepare()
    except OSError as e:
        print(f"naas-api: cannot listen on {conf.api.host}:{conf.api.port}: {e}",
              file=sys.stderr)
        service.close()
        return 1
    host, port = server.bind_addr[:2]
    LOG.info("naas-api serving http://%s:%s/ (auth_strategy=%s)", host, port,
             conf.auth_strategy)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
