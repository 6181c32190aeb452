"""Plug cost through the service with port security and the default group, against without.

COUNT ports are created and attached (so plugged) on this host's linuxbridge
driver, working in a throw-away network namespace with br_netfilter on (the
namespace default once the module is loaded): once on a network with port
security (each port in its project's default group, its rules programmed
before its device is made) and once on a network without. Rounds alternate
and the best of each is kept (the machine is shared). Target: at most 1.3x.
Besides wall time it prints this process's CPU time (user + system: the
kernel's work on its netlink and nft calls included), which other loads on a
shared machine disturb far less.

Each ratio is printed twice: best against best, and the median of the
rounds' own ratios (each round's two runs are next to each other in time).

    sudo .venv/bin/python benchmarks/bench_portsec_plug.py [COUNT [ROUNDS]]
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid

from pyroute2 import netns

from naas_lib import NetworkService, RequestContext

ROUNDS = 3


@contextlib.contextmanager
def namespace():
    name = f"bps-{uuid.uuid4().hex[:8]}"
    netns.create(name)
    try:
        yield name
    finally:
        netns.remove(name)


def per_port(count: int, port_security: bool) -> tuple[float, float, int]:
    """Wall and CPU seconds per port for create + attach (plug), and the host's nft lines."""
    ctx = RequestContext(project_id="bench", user_id="bench", roles=["admin"])
    with namespace() as ns, tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        # DHCP off: this measures port security (bench_dhcp.py measures the responders),
        # and the ports stay attached when the namespace goes.
        with NetworkService.from_settings(database_url=url, driver="linuxbridge", host="bench",
                                          linuxbridge={"netns": ns, "dhcp": False}) as svc:
            assert svc.driver.describe().port_security, "br_netfilter is not on"
            net = svc.create_network(ctx, name="bench", network_type="local",
                                     port_security_enabled=port_security)
            svc.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/16")
            svc.create_port(ctx, network_id=net.id)  # default group made before timing
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(count):
                p = svc.create_port(ctx, network_id=net.id)
                svc.attach_port(ctx, p.id, f"vif-{i}", instance_id="vm")
            per = (time.perf_counter() - start) / count
            cpu = (time.process_time() - cpu) / count
            assert svc.get_port(ctx, p.id).status == "ACTIVE"
            rules = svc.driver.portsec.portsec.ruleset().count("\n")
            return per, cpu, rules


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_portsec_plug needs root (network namespaces)")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS
    on, off = [], []
    for _ in range(rounds):
        off.append(per_port(count, False))
        on.append(per_port(count, True))
    print(f"best of {rounds} alternating rounds, {count} ports "
          f"(load average {os.getloadavg()[0]:.2f})")
    for what, index in (("wall", 0), ("CPU", 1)):
        best_on, best_off = min(r[index] for r in on), min(r[index] for r in off)
        paired = statistics.median(a[index] / b[index] for a, b in zip(on, off, strict=True))
        print(f"create_port + attach_port, port security off  {best_off * 1e3:7.2f} ms/port "
              f"{what}")
        print(f"create_port + attach_port, default group      {best_on * 1e3:7.2f} ms/port "
              f"{what}   ratio {best_on / best_off:.2f}x, median of rounds {paired:.2f}x "
              f"(target <= 1.3x)")
    print(f"nft listing lines with {count} filtered ports      {on[0][2]}")


if __name__ == "__main__":
    main()
