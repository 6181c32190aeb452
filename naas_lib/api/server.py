"""``naas-api``: serve the REST API with cheroot, a production-grade threaded WSGI server.

    naas-api --config-file /etc/naas/naas.conf

reads ``[database] connection``, ``[DEFAULT] auth_strategy`` and
``[api] host``/``port``/``threads``/``workers``. The embedded SQLite schema is
created on first use, as the library does.

With ``[api] workers`` above 1 the process forks that many worker processes,
each a whole server (its own service, database pool and ``threads``) on the
same address with ``SO_REUSEPORT``, so the kernel spreads connections over
them and Python's interpreter lock is per worker. The parent only supervises:
it forwards SIGTERM/SIGINT to every worker, each of which drains as below,
and exits when they have; a worker that ends on its own stops the others
(status 1), for the service manager to restart the whole.

SIGTERM or SIGINT drains the server: it stops accepting connections, answers
every request it accepted (queued ones included) within ``[api] drain_timeout``
seconds and exits 0. A second signal exits at once (status 128 + signal).
The signal handlers only record the signal; the main thread does the work,
so no exception is ever raised into whatever code the signal interrupted.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from naas_lib import conf as naas_conf
from naas_lib import exceptions as exc
from naas_lib.api import app as api_app
from naas_lib.api import drain, opts
from naas_lib.api import workers as workers_mod
from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)


def load_conf(argv: Sequence[str]) -> cfg.ConfigOpts:
    """Parse the command line (``--config-file``) into a fresh ``ConfigOpts``."""
    conf = cfg.ConfigOpts()
    naas_conf.register_opts(conf)
    opts.register_opts(conf)
    conf(list(argv), project="naas", prog="naas-api", default_config_files=[])
    return conf


def make_server(conf: cfg.ConfigOpts, service: NetworkService | None = None,
                reuse_port: bool = False) -> drain.DrainingServer:
    """A cheroot server around the application; bound when ``prepare()`` is called.

    ``reuse_port``: bind with ``SO_REUSEPORT``, beside the other workers.
    """
    application = api_app.build_app(conf, service)
    api_conf = conf[opts.API_GROUP]
    return drain.DrainingServer((api_conf.host, api_conf.port), application,
                                numthreads=api_conf.threads, server_name="naas-api",
                                reuse_port=reuse_port)


class StopSignals:
    """SIGTERM/SIGINT handlers that only record the first signal; the second exits."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.signum: int | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received.is_set():
            os.write(2, f"naas-api: signal {signum} again, exiting now\n".encode())
            os._exit(128 + signum)
        self.signum = signum
        self.received.set()

    def wait(self, serving: threading.Thread) -> None:
        """Block until a signal arrives or the serving thread ends on its own."""
        while serving.is_alive() and not self.received.wait(0.5):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``naas-api``; returns the exit status."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    try:
        conf = load_conf(sys.argv[1:] if argv is None else argv)
        if conf.host:
            LOG.warning("[DEFAULT] host=%s is ignored: the API process binds ports to "
                        "hosts but plugs none itself", conf.host)
            conf.set_override("host", None)
        # Built here also when workers make their own: a configuration or schema
        # error ends the command with status 2 before anything forks.
        service = NetworkService(conf)
    except (cfg.Error, exc.NaasError) as e:
        print(f"naas-api: {e}", file=sys.stderr)
        return 2
    workers = conf.api.workers
    if workers > 1:
        service.close()
        return workers_mod.supervise(workers, lambda: serve(conf, None, reuse_port=True))
    return serve(conf, service)


def _freeze_startup_objects() -> None:
    """Move what start-up made (modules, the service, the app) out of the collector's sight.

    Those hundreds of thousands of objects live as long as the process; a full
    collection would otherwise walk them all, pausing every request thread
    (tens of milliseconds: the latency tail). Requests' own garbage is
    still collected as usual.
    """
    gc.collect()
    gc.freeze()


def serve(conf: cfg.ConfigOpts, service: NetworkService | None,
          reuse_port: bool = False) -> int:
    """Serve until SIGTERM/SIGINT, then drain; the exit status."""
    if service is None:
        try:
            service = NetworkService(conf)
        except (cfg.Error, exc.NaasError) as e:
            print(f"naas-api: {e}", file=sys.stderr)
            return 2
    server = make_server(conf, service, reuse_port=reuse_port)
    signals = StopSignals()
    signals.install()
    try:
        server.prepare()
    except OSError as e:
        print(f"naas-api: cannot listen on {conf.api.host}:{conf.api.port}: {e}",
              file=sys.stderr)
        service.close()
        return 1
    host, port = server.bind_addr[:2]
    LOG.info("naas-api serving http://%s:%s/ (auth_strategy=%s, %d threads)", host, port,
             conf.auth_strategy, conf.api.threads)
    _freeze_startup_objects()
    serving = threading.Thread(target=server.serve, name="naas-api-serve")
    serving.start()
    try:
        signals.wait(serving)
        if signals.signum is not None:
            timeout = conf.api.drain_timeout
            LOG.info("Signal %d received: draining (at most %ss)", signals.signum, timeout)
            if drain.drain(server, timeout):
                LOG.info("Drained: every accepted request was answered")
            else:
                LOG.warning("Drain time of %ss exceeded; unanswered connections closed",
                            timeout)
        else:
            server.stop()
        serving.join()
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
