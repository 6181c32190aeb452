"""Cost of notifications: port updates without, and with, RabbitMQ notifications.

The floor is the same service with notifications not configured (no
notifier, oslo.messaging not imported). With ``[oslo_messaging_notifications]``
pointing at the RabbitMQ on 127.0.0.1:5672 each update also sends one
``port.update.end``; the exchange and queue are unique and removed afterwards.

    python -m benchmarks.bench_notifications [--count 500]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

from benchmarks import _util
from naas_lib import NetworkService, RequestContext

URL = "rabbit://guest:guest@127.0.0.1:5672/"


def bench(url: str, count: int, config_files: list[str]) -> list[float]:
    svc = NetworkService.from_settings(database_url=url, create_schema=True,
                                       config_files=config_files)
    ctx = RequestContext(project_id="bench", user_id="bench")
    net = svc.create_network(ctx, name="bench")
    port = svc.create_port(ctx, network_id=net.id)
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        svc.update_port(ctx, port.id, name=f"p{i}")
        samples.append(time.perf_counter() - t0)
    svc.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:10]
    exchange, topic = f"naas-bench-{tag}", f"naas-bench-{tag}"
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(f"[DEFAULT]\ncontrol_exchange = {exchange}\n[oslo_messaging_notifications]\n"
                f"transport_url = {URL}\ntopics = {topic}\n")
        conf = f.name
    try:
        floor = bench(_util.fresh_sqlite("bench_notif_off.sqlite"), args.count, [])
        on = bench(_util.fresh_sqlite("bench_notif_on.sqlite"), args.count, [conf])
    finally:
        os.unlink(conf)
        import kombu

        with kombu.Connection(URL.replace("rabbit://", "amqp://", 1)) as c:
            ch = c.channel()
            ch.queue_delete(f"{topic}.info")
            ch.exchange_delete(exchange)
    off_p, on_p = _util.percentiles(floor), _util.percentiles(on)
    print(f"port update x{args.count}, SQLite file")
    _util.report("notifications off (floor), mean", off_p["mean"] * 1e6)
    _util.report("notifications off, p99", off_p["p99"] * 1e6)
    _util.report("notifications on (RabbitMQ), mean", on_p["mean"] * 1e6,
                 off_p["mean"] * 1e6)
    _util.report("notifications on (RabbitMQ), p99", on_p["p99"] * 1e6, off_p["p99"] * 1e6)


if __name__ == "__main__":
    main()
