"""Cost of port security on a host: per-port apply, rule and membership changes, ruleset size.

In a throw-away network namespace with a bridge and ``COUNT`` veth ports:

* the floor: making a port's veth pair and putting it on the bridge (pyroute2,
  one fused request), microseconds per port;
* ``PortSecurity.apply_port`` with the default group for each of those ports
  (the nft part of a plug), and the ratio (veth + nft) / veth (target <= 1.3x);
* one rule change of the group all ports use (a new ingress TCP rule), which is
  in force when its transaction returns;
* a membership change of a group with 1,000 members (one address added), a set
  update with no chain or rule touched;
* the ruleset size per port (rules and bytes of ``nft list``).

    sudo .venv/bin/python benchmarks/bench_portsec.py [COUNT]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid

from pyroute2 import IPRoute, netns

from naas_lib.drivers.linuxbridge.portsec import (
    DesiredPortSecurity,
    PortSecurity,
    PortSpec,
    SecurityGroup,
    SecurityGroupRule,
)

V6 = "IPv6"


def default_group(members: tuple[str, ...]) -> SecurityGroup:
    return SecurityGroup("default", (
        SecurityGroupRule("egress"), SecurityGroupRule("egress", V6),
        SecurityGroupRule("ingress", remote_group_id="default"),
        SecurityGroupRule("ingress", V6, remote_group_id="default")), members)


def _nft(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "nft", *args], capture_output=True,
                          text=True, check=True).stdout


def _rules(ns: str) -> int:
    total = 0
    for family, table in (("bridge", "naas_portsec"), ("inet", "naas_sg")):
        items = json.loads(_nft(ns, "-j", "list", "table", family, table))["nftables"]
        total += sum(1 for item in items if "rule" in item)
    return total


def run(count: int) -> None:
    ns = "naasbps" + uuid.uuid4().hex[:8]
    netns.create(ns)
    try:
        with IPRoute(netns=ns, flags=0) as ipr:
            ipr.link("add", ifname="br0", kind="bridge", state="up")
            bridge = ipr.link_lookup(ifname="br0")[0]
            specs = []
            start = time.perf_counter()
            for i in range(count):
                dev = f"nvh{i:08d}"
                ipr.link("add", ifname=dev, kind="veth", peer=f"nvp{i:08d}")
                ipr.link("set", index=ipr.link_lookup(ifname=dev)[0], master=bridge, mtu=1450,
                         state="up")
                specs.append(PortSpec(dev, f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:"
                                           f"{i & 255:02x}", (f"10.{i >> 8}.{i & 255}.10",),
                                      security_groups=("default",)))
            veth = (time.perf_counter() - start) / count
        members = tuple(p.fixed_ips[0] for p in specs)
        ps = PortSecurity(ns)
        ok, reason = ps.capable()
        group = default_group(members)
        samples = []
        for spec in specs:
            t0 = time.perf_counter()
            ps.apply_port(spec, [group])
            samples.append(time.perf_counter() - t0)
        nft = statistics.fmean(samples)
        first, last = statistics.fmean(samples[:20]), statistics.fmean(samples[-20:])
        print(f"ports: {count}; br_netfilter settings in place: {ok} ({reason})")
        print(f"floor: veth pair on the bridge        {veth * 1e6:10.0f} us/port")
        print(f"apply_port (default group, nft)       {nft * 1e6:10.0f} us/port "
              f"(first 20: {first * 1e6:.0f}, last 20: {last * 1e6:.0f})")
        ratio = (veth + nft) / veth
        print(f"plug with port security / plain plug  {ratio:10.2f}x "
              f"(target <= 1.3x: {'met' if ratio <= 1.3 else 'MISSED'})")

        for spec in specs:
            ps.remove_port(spec.device)
        t0 = time.perf_counter()
        ps.apply_ports([(spec, [group]) for spec in specs])
        batched = (time.perf_counter() - t0) / count
        ratio = (veth + batched) / veth
        print(f"apply_ports, all {count} in one transaction {batched * 1e6:10.0f} us/port; "
              f"with the veth {ratio:.2f}x (target <= 1.3x: {'met' if ratio <= 1.3 else 'MISSED'})")
        t0 = time.perf_counter()
        ps.sync(DesiredPortSecurity(tuple(specs), (group,)))
        took = (time.perf_counter() - t0) * 1e3
        print(f"sync rebuild of {count} ports            {took:10.1f} ms")

        rule = SecurityGroupRule("ingress", protocol="tcp", port_range_min=22, port_range_max=22)
        changed = SecurityGroup("default", group.rules + (rule,), members)
        times = []
        for _ in range(5):
            for g in (changed, group):
                t0 = time.perf_counter()
                ps.update_group_rules(g)
                times.append(time.perf_counter() - t0)
        print(f"rule change, {count} ports in the group  {statistics.median(times) * 1e3:10.1f} ms "
              "(median of 10; in force when the transaction returns)")

        thousand = tuple(f"10.200.{i >> 8}.{i & 255}" for i in range(1000))
        ps.update_members("default", thousand)
        times = []
        for i in range(10):
            t0 = time.perf_counter()
            ps.update_members("default", thousand + (f"10.201.0.{i + 1}",))
            times.append(time.perf_counter() - t0)
        rules_before = _rules(ns)
        print(f"membership change, 1,000 members      {statistics.median(times) * 1e3:10.1f} ms "
              "(median of 10; set elements only)")

        size = len(ps.ruleset().encode())
        print(f"ruleset: {rules_before} rules, {size} bytes of 'nft list' for {count} ports "
              f"= {rules_before / count:.1f} rules and {size / count:.0f} bytes per port "
              "(with 1,000 members in the set)")
        ps.close()
    finally:
        netns.remove(ns)


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
