"""8 compute hosts boot 100 two-NIC instances each, at once, on a subnet that runs out.

Against PostgreSQL and MariaDB (the shared fake driver, a recording noop):
every instance ends with all its NICs or none, no address or MAC is handed out twice, and nothing a
failed boot made is left in the database.
"""

from __future__ import annotations

import collections
import time

import pytest

from naas_lib import NetworkService, RequestContext
from tests.support import boot_race

PROCESSES = 8
INSTANCES = 100
SCARCE = 300  # addresses of the second network: enough for 300 of the 800 instances


# The shared db_url fixture, on the server backends only (the race is theirs).
@pytest.mark.parametrize("db_url", ["postgresql", "mysql"], indirect=True)
def test_concurrent_boots_are_all_or_nothing(db_url):
    svc = NetworkService.from_settings(database_url=db_url, create_schema=True)
    ctx = RequestContext(project_id="race", user_id="nova")
    try:
        plenty = svc.create_network(ctx, name="plenty")
        svc.create_subnet(ctx, network_id=plenty.id, cidr="10.80.0.0/22")
        scarce = svc.create_network(ctx, name="scarce")
        # DHCP off: the test counts the pool's capacity (the reservation would take one)
        svc.create_subnet(ctx, network_id=scarce.id, cidr="10.81.0.0/23",
                          allocation_pools=[{"start": "10.81.0.10",
                                             "end": f"10.81.{(9 + SCARCE) // 256}."
                                                    f"{(9 + SCARCE) % 256}"}],
                          enable_dhcp=False)
        start = time.monotonic()
        outcomes = boot_race.run_boots(db_url, [plenty.id, scarce.id], PROCESSES,
                                       INSTANCES)
        elapsed = time.monotonic() - start
        kinds = collections.Counter(kind for kind, _, _ in outcomes)
        unexpected = [o for o in outcomes if o[0] == "unexpected"]
        assert not unexpected, unexpected[:5]
        assert kinds["ok"] + kinds["failed"] == PROCESSES * INSTANCES
        # The scarce network is the only limit: exactly its addresses' worth boot.
        assert kinds["ok"] == SCARCE, (kinds, [o for o in outcomes if o[0] == "failed"][:5])
        failures = {o[2][:2] for o in outcomes if o[0] == "failed"}
        assert failures == {(1, "IpAddressGenerationFailure")}, [
            o for o in outcomes if o[0] == "failed" and o[2][0] != 1][:5]

        admin = ctx.elevated()
        ports = svc.list_ports(admin)
        by_instance = collections.defaultdict(list)
        for att in svc.list_attachments(admin):
            by_instance[att.instance_id].append(att.port_id)
        booted = {o[1]: o[2] for o in outcomes if o[0] == "ok"}
        failed = {o[1] for o in outcomes if o[0] == "failed"}
        # All NICs or none, and nothing but the booted instances' ports exists.
        assert {i: sorted(p) for i, p in by_instance.items()} == {
            i: sorted(p) for i, p in booted.items()}
        assert not failed & set(by_instance)
        assert sorted(p.id for p in ports) == sorted(p for ps in booted.values() for p in ps)
        assert not {p.device_id for p in ports} & failed
        # No address or MAC twice; each booted instance has one NIC per network.
        ips = [(f.subnet_id, f.ip_address) for p in ports for f in p.fixed_ips]
        assert len(ips) == len(set(ips)) == 2 * SCARCE
        # MACs are unique per network (the schema's and Neutron's rule) and among one
        # instance's NICs; two networks may share one by chance (about one run in 200
        # with 300 random MACs on each), as Neutron allows.
        macs = [(p.network_id, p.mac_address) for p in ports]
        assert len(macs) == len(set(macs))
        by_port = {p.id: p.mac_address for p in ports}
        assert all(len({by_port[p] for p in ps}) == len(ps) for ps in booted.values())
        nets = {p.id: p.network_id for p in ports}
        assert all(sorted(nets[p] for p in ps) == sorted([plenty.id, scarce.id])
                   for ps in booted.values())
        # Each host's driver holds exactly the ports it booted and still has.
        plugged = [p for kind, _, ps in outcomes if kind == "plugged" for p in ps]
        assert sorted(plugged) == sorted(nets)
        print(f"\n{PROCESSES}x{INSTANCES} boots: {kinds['ok']} booted, {kinds['failed']} "
              f"refused, {elapsed:.1f}s")
    finally:
        svc.close()
