"""naas check's ping asks again after an ICMP error, until its deadline (no root: ping faked)."""

from __future__ import annotations

import subprocess
import time

from naas_lib.cli import pinging


class FakePing:
    """Answers like iputils ping: an ICMP error (exit 1 at once) ``errors`` times, then a reply."""

    def __init__(self, errors: int) -> None:
        self.errors = errors
        self.calls: list[list[str]] = []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        code = 1 if len(self.calls) <= self.errors else 0
        return subprocess.CompletedProcess(cmd, code, b"", b"")


def test_a_reply_after_icmp_errors_within_the_deadline_counts(monkeypatch):
    fake = FakePing(errors=2)
    monkeypatch.setattr(pinging.subprocess, "run", fake)
    assert pinging.ping("guest-ns", "10.0.0.5", deadline=2)
    assert len(fake.calls) == 3
    assert fake.calls[0][:4] == ["ip", "netns", "exec", "guest-ns"]
    assert fake.calls[0][-1] == "10.0.0.5"


def test_no_reply_until_the_deadline_is_false_and_options_reach_ping(monkeypatch):
    fake = FakePing(errors=10**6)
    monkeypatch.setattr(pinging.subprocess, "run", fake)
    start = time.monotonic()
    assert not pinging.ping(None, "10.0.0.5", deadline=0.5, size=1400, dont_fragment=True,
                            source="eth1")
    assert 0.4 <= time.monotonic() - start < 5
    assert len(fake.calls) >= 2  # asked again, not given up at the first error
    cmd = fake.calls[0]
    assert cmd[0] == "ping"  # no namespace: this one
    assert cmd[cmd.index("-s") + 1] == "1400" and cmd[cmd.index("-M") + 1] == "do"
    assert cmd[cmd.index("-I") + 1] == "eth1"
