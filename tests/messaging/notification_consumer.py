"""A separate process that prints the notifications it receives, one JSON line each.

Usage: ``python notification_consumer.py TRANSPORT_URL EXCHANGE TOPIC``.
Prints ``READY`` once listening; stops, deletes its queue and exchange and
exits when its standard input is closed.
"""

from __future__ import annotations

import json
import sys
import threading


class Printer:
    """Notification endpoint: every ``info`` notification becomes one line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):  # noqa: ANN001
        line = json.dumps({"event_type": event_type, "publisher_id": publisher_id,
                           "payload": payload, "project_id": ctxt.get("project_id")})
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def main() -> int:
    url, exchange, topic = sys.argv[1:4]
    import oslo_messaging
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic, exchange=exchange)], [Printer()],
        executor="threading")
    listener.start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sys.stdin.read()
    listener.stop()
    listener.wait()
    transport.cleanup()
    import kombu

    # kombu spells the scheme amqp:// where oslo.messaging says rabbit://.
    with kombu.Connection(url.replace("rabbit://", "amqp://", 1)) as conn:
        channel = conn.channel()
        channel.queue_delete(f"{topic}.info")
        channel.exchange_delete(exchange)
    return 0


if __name__ == "__main__":
    sys.exit(main())
