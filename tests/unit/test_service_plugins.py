"""Service plugins loaded by entry point at start-up, from test-only distributions.

A temporary ``*.dist-info`` on ``sys.path`` declares entry points in the
``naas_lib.services`` namespace: a good plugin, one whose module raises on
import, one whose module does not exist and one that raises while starting.
"""

from __future__ import annotations

import sys
import textwrap
import uuid

import pytest
from stevedore.extension import ExtensionManager

from naas_lib import NetworkService, events
from naas_lib import exceptions as exc

GOOD = '''
STARTED = []


class AuditHook:
    """Counts created networks; proves it got the service and may subscribe."""

    def __init__(self, service):
        self.created = []
        self.closed = False
        service.events.subscribe(self.on_network, "network", "after_create")
        STARTED.append(self)

    def on_network(self, resource, event, trigger, payload):
        self.created.append(payload.latest.name)

    def close(self):
        self.closed = True


def refuse_shared(service):
    def check(resource, event, trigger, payload):
        if payload.request.get("shared"):
            raise ValueError("shared networks are not allowed here")
    service.events.subscribe(check, "network", "before_create")
    return check


def crash_on_start(service):
    raise RuntimeError("cannot reach the firewall appliance")
'''

BROKEN = '''
raise ImportError("this plugin module is broken")
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Install the test distribution; yields the plugin names and the good module."""
    tag = uuid.uuid4().hex[:8]
    good_mod, broken_mod = f"naas_test_good_{tag}", f"naas_test_broken_{tag}"
    (tmp_path / f"{good_mod}.py").write_text(GOOD)
    (tmp_path / f"{broken_mod}.py").write_text(BROKEN)
    dist = tmp_path / f"naas_test_plugins_{tag}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: naas-test-plugins-{tag}\nVersion: 1.0\n")
    names = {k: f"{k}-{tag}" for k in ("audit", "no-shared", "crash", "broken",
                                        "unimportable")}
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""\
        [naas_lib.services]
        {names['audit']} = {good_mod}:AuditHook
        {names['no-shared']} = {good_mod}:refuse_shared
        {names['crash']} = {good_mod}:crash_on_start
        {names['broken']} = {broken_mod}:Plugin
        {names['unimportable']} = naas_no_such_module_{tag}:Plugin
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    # stevedore remembers a namespace's entry points per process; forget them
    # so this test's distribution is seen (and forgotten again afterwards).
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    yield names, good_mod
    for mod in (good_mod, broken_mod):
        sys.modules.pop(mod, None)


def _start(names):
    return NetworkService.from_settings(database_url="sqlite://", service_plugins=names)


def test_named_plugins_start_in_order_and_hook_into_events(plugins, ctx):
    names, good_mod = plugins
    svc = _start([names["audit"], names["no-shared"]])
    try:
        audit, check = svc.service_plugins
        assert sys.modules[good_mod].STARTED == [audit]
        svc.create_network(ctx, name="seen")
        assert audit.created == ["seen"]
        with pytest.raises(exc.CallbackFailure, match="shared networks are not allowed"):
            svc.create_network(RequestContextAdmin(), name="s", shared=True)
        assert svc.events.has_subscribers(events.NETWORK, events.BEFORE_CREATE)
    finally:
        svc.close()
    assert audit.closed


def test_only_configured_plugins_are_loaded(plugins, ctx):
    names, good_mod = plugins
    svc = _start([names["no-shared"]])
    try:
        # The broken and unimportable entry points exist but are not named.
        assert len(svc.service_plugins) == 1
        assert sys.modules[good_mod].STARTED == []
    finally:
        svc.close()


@pytest.mark.parametrize("key, reason", [
    ("broken", "this plugin module is broken"),
    ("unimportable", "No module named"),
    ("crash", "cannot reach the firewall appliance"),
])
def test_broken_plugin_fails_start_up_naming_it(plugins, key, reason):
    names, good_mod = plugins
    with pytest.raises(exc.ServicePluginNotFound) as info:
        _start([names["audit"], names[key]])
    assert names[key] in info.value.message
    assert reason in info.value.message
    # The plugin started before the broken one was closed again.
    (audit,) = sys.modules[good_mod].STARTED
    assert audit.closed


def test_missing_plugin_fails_start_up_naming_it(plugins):
    with pytest.raises(exc.ServicePluginNotFound, match="no-such-plugin"):
        _start(["no-such-plugin"])


def test_no_plugins_configured_means_none_loaded(service):
    assert service.service_plugins == []
    assert service.notifier is None


def RequestContextAdmin():
    from naas_lib import RequestContext

    return RequestContext(project_id="ops", roles=["admin"])
