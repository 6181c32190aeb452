"""Child process of the crash-safety tests: attach one port on a simulated host.

``python -m tests.functional.crash_child DB_URL HOST NETNS PORT_ID DHCP_STATE`` builds
the host's service (linuxbridge driver in NETNS, its DHCP responders' files under
the test's DHCP_STATE) and attaches PORT_ID to HOST,
which binds, commits and plugs. With ``NAAS_FAULT_INJECT`` set in its
environment it is SIGKILLed at that point; otherwise it exits 0.
"""

from __future__ import annotations

import sys

from naas_lib import NetworkService, RequestContext
from naas_lib.drivers.linuxbridge import driver as linuxbridge
from tests import fault_injection


def _fault_before_wiring() -> None:
    """Put the ``mid_plug`` point where a veth is made but not yet wired to its bridge."""
    configure = linuxbridge.LinuxBridgeDriver._configure_guest

    def configure_then_maybe_crash(self, port, subnets):
        fault_injection.point("mid_plug")
        return configure(self, port, subnets)

    linuxbridge.LinuxBridgeDriver._configure_guest = configure_then_maybe_crash


def main(argv: list[str]) -> int:
    url, host, netns, port_id, dhcp_state = argv
    _fault_before_wiring()
    svc = NetworkService.from_settings(database_url=url, driver="linuxbridge", host=host,
                                       linuxbridge={"netns": netns,
                                                    "dhcp_state_path": dhcp_state},
                                       hooks=fault_injection.EnvHooks())
    ctx = RequestContext(project_id="admin", user_id="crash-child", roles=["admin"])
    svc.attach_port(ctx, port_id, f"vif-{port_id}", host=host)
    svc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
