"""Fault injection for the crash-safety tests: hooks a test hands the service.

A point is a named place in the code where a crash hurts most (between the
database commit and the plug; half-way through a plug). It does nothing
unless the environment variable ``NAAS_FAULT_INJECT`` names it::

    NAAS_FAULT_INJECT=after_commit_before_plug        # SIGKILL this process there
    NAAS_FAULT_INJECT=mid_plug:raise                  # raise FaultInjected there

Several points may be listed, separated by commas. The default action,
``kill``, sends SIGKILL to the current process: no ``finally`` blocks, no
atexit handlers, exactly like a host losing power or the OOM killer. The
variable is read at each point, so a test may set it in a child process only.
"""

from __future__ import annotations

import logging
import os
import signal

LOG = logging.getLogger(__name__)

ENV_VAR = "NAAS_FAULT_INJECT"

#: The documented points and where they sit.
POINTS = {
    "after_commit_before_plug": "attach_port: the binding is committed, the plug not started",
    "mid_plug": "a driver's plug: some devices are made, the port is not yet wired",
}


class FaultInjected(RuntimeError):
    """Raised at a fault point configured with the ``raise`` action."""


def _actions(spec: str) -> dict[str, str]:
    actions = {}
    for item in spec.split(","):
        name, _, action = item.strip().partition(":")
        if name:
            actions[name] = action.strip() or "kill"
    return actions


def point(name: str) -> None:
    """Crash here (SIGKILL, or raise) when ``NAAS_FAULT_INJECT`` names this point."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    action = _actions(spec).get(name)
    if action is None:
        return
    if action == "raise":
        raise FaultInjected(f"fault injected at {name}")
    LOG.warning("Fault injection: SIGKILL at %s", name)
    os.kill(os.getpid(), signal.SIGKILL)


class EnvHooks:
    """Service hooks (``naas_lib.resources.core.Hooks``) that act on ``NAAS_FAULT_INJECT``."""

    def point(self, name: str) -> None:
        point(name)
