"""Notifications across processes, against the RabbitMQ server of this machine.

A consumer runs as a separate process (``notification_consumer.py``) on an
exchange and topic unique to the test run; the test drives a scripted
sequence through a service configured with ``[oslo_messaging_notifications]``
and checks the consumer received exactly those events, in order per resource,
with payloads in Neutron's wire format. Without RabbitMQ the test skips,
except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

import pytest

from naas_lib import NetworkService
from tests.support.ci import unavailable

RABBIT = ("127.0.0.1", 5672)
URL = "rabbit://guest:guest@127.0.0.1:5672/"
CONSUMER = os.path.join(os.path.dirname(__file__), "notification_consumer.py")


def _rabbit_up() -> bool:
    try:
        with socket.create_connection(RABBIT, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def rabbit():
    if not _rabbit_up():
        unavailable("RabbitMQ at 127.0.0.1:5672")


class Consumer:
    """The consumer process and a thread collecting its lines."""

    def __init__(self, exchange: str, topic: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, CONSUMER, URL, exchange, topic], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_ready(self) -> None:
        line = self.next_line(60)
        if line != "READY":
            self.stop()
            pytest.fail(f"consumer did not start: {line!r} {self.proc.stderr.read()[-2000:]}")

    def collect(self, count: int, deadline: float, quiet: float) -> list[dict]:
        """``count`` notifications, then anything more arriving within ``quiet`` seconds."""
        got: list[dict] = []
        end = time.monotonic() + deadline
        while len(got) < count and time.monotonic() < end:
            line = self.next_line(max(0.0, end - time.monotonic()))
            if line:
                got.append(json.loads(line))
        while (line := self.next_line(quiet)) is not None:
            got.append(json.loads(line))
        return got

    def stop(self) -> int:
        """Close its input; it stops, removes its queue and exchange; returns its exit code."""
        try:
            self.proc.stdin.close()
            return self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def channel(rabbit, tmp_path):
    """(config file, consumer) on an exchange and topic of this run only."""
    tag = uuid.uuid4().hex[:12]
    exchange, topic = f"naas-test-{tag}", f"naas-notif-{tag}"
    conf = tmp_path / "naas.conf"
    conf.write_text(
        f"[DEFAULT]\ncontrol_exchange = {exchange}\n\n"
        f"[oslo_messaging_notifications]\ndriver = messagingv2\ntransport_url = {URL}\n"
        f"topics = {topic}\n")
    consumer = Consumer(exchange, topic)
    try:
        consumer.wait_ready()
        yield str(conf), consumer
    finally:
        code = consumer.stop()
    assert code == 0, f"consumer failed to clean up: {consumer.proc.stderr.read()[-2000:]}"


def _script(svc, ctx):
    """The scripted sequence; returns the notifications it must produce, in order."""
    expected: list[tuple[str, str]] = []
    n1 = svc.create_network(ctx, name="n1")
    expected.append(("network.create.end", n1.id))
    svc.update_network(ctx, n1.id, name="n1-renamed")
    expected.append(("network.update.end", n1.id))
    sub = svc.create_subnet(ctx, network_id=n1.id, cidr="10.20.0.0/24")
    expected.append(("subnet.create.end", sub.id))
    port = svc.create_port(ctx, network_id=n1.id, name="p")
    expected.append(("port.create.end", port.id))
    # The project's first port made its default security group (notified after the port).
    expected.append(("security_group.create.end", port.security_groups[0]))
    svc.update_port(ctx, port.id, name="p2")
    expected.append(("port.update.end", port.id))
    svc.attach_port(ctx, port.id, "vif-1", instance_id="vm-1")
    expected.append(("port.attach.end", port.id))
    svc.detach_port(ctx, port.id)
    expected.append(("port.detach.end", port.id))
    svc.delete_port(ctx, port.id)
    expected.append(("port.delete.end", port.id))
    svc.delete_subnet(ctx, sub.id)
    expected.append(("subnet.delete.end", sub.id))
    n2 = svc.create_network(ctx, name="n2")
    expected.append(("network.create.end", n2.id))
    svc.delete_network(ctx, n1.id)
    expected.append(("network.delete.end", n1.id))
    return expected


def _resource_id(note: dict) -> str:
    payload = note["payload"]
    if "port_id" in payload:
        return payload["port_id"]
    (key,) = [k for k in payload if k in ("network", "subnet", "port", "security_group")]
    return payload[key]["id"]


def test_consumer_process_receives_exactly_the_scripted_events(channel, ctx):
    conf_file, consumer = channel
    svc = NetworkService.from_settings(database_url="sqlite://", config_files=[conf_file])
    try:
        assert svc.notifier is not None
        expected = _script(svc, ctx)
    finally:
        svc.close()
    got = consumer.collect(len(expected), deadline=60, quiet=1.5)
    received = [(n["event_type"], _resource_id(n)) for n in got]
    assert sorted(received) == sorted(expected), "exactly the scripted events, no more"
    per_resource: dict[str, list[str]] = defaultdict(list)
    for event_type, rid in received:
        per_resource[rid].append(event_type)
    for rid, types in per_resource.items():
        assert types == [e for e, r in expected if r == rid], f"order of {rid}"

    by_type: dict[str, dict] = {}
    for n in got:
        by_type.setdefault(n["event_type"], n)  # the first of each type
    net = by_type["network.create.end"]["payload"]["network"]
    assert net["provider:network_type"] in ("vxlan", "local")
    assert net["tenant_id"] == net["project_id"] == ctx.project_id
    assert net["name"] == "n1" and net["created_at"].endswith("Z")
    assert "network_type" not in net
    port = by_type["port.update.end"]["payload"]["port"]
    assert port["name"] == "p2" and "binding:host_id" in port and "binding:vif_type" in port
    attach = by_type["port.attach.end"]["payload"]["attachment"]
    assert (attach["interface_id"], attach["instance_id"]) == ("vif-1", "vm-1")
    deleted = by_type["network.delete.end"]["payload"]
    assert deleted["network_id"] == deleted["network"]["id"]
    assert [n["project_id"] for n in got] == [ctx.project_id] * len(got)
    assert all(n["publisher_id"].startswith("network.") for n in got)


def test_unconfigured_service_sends_nothing_and_never_imports_oslo_messaging(tmp_path):
    code = (
        "import sys\n"
        "from naas_lib import NetworkService, RequestContext\n"
        "s = NetworkService.from_settings(database_url='sqlite://')\n"
        "c = RequestContext(project_id='p')\n"
        "n = s.create_network(c, name='n'); s.delete_network(c, n.id)\n"
        "print(s.notifier is None, 'oslo_messaging' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_unreachable_broker_never_fails_the_operation(tmp_path, ctx):
    port = _free_port()
    conf = tmp_path / "naas.conf"
    conf.write_text("[oslo_messaging_notifications]\n"
                    f"transport_url = rabbit://guest:guest@127.0.0.1:{port}/\nretry = 0\n")
    svc = NetworkService.from_settings(database_url="sqlite://", config_files=[str(conf)])
    try:
        net = svc.create_network(ctx, name="still-created")
        assert svc.get_network(ctx, net.id).name == "still-created"
    finally:
        svc.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
