"""Eight processes race for the addresses of one subnet that runs out.

On SQLite, PostgreSQL and MariaDB the writers share one server; on Galera
they are spread over the three nodes and the result is read back from each.
"""

from __future__ import annotations

import collections

from naas_lib import NetworkService, RequestContext
from tests.support import galera
from tests.support.race import run_race

PROCESSES = 8
ATTEMPTS = 6
CAPACITY = 29  # 10.9.0.0/27 minus network, gateway (.1) and broadcast
MAX_RETRIES = 5


def _race(write_urls, read_urls):
    setup = NetworkService.from_settings(database_url=write_urls[0], create_schema=True)
    ctx = RequestContext(project_id="race", user_id="setup")
    net = setup.create_network(ctx, name="race")
    # DHCP off: the test counts the pool's capacity (the reservation would take one)
    sub = setup.create_subnet(ctx, network_id=net.id, cidr="10.9.0.0/27", enable_dhcp=False)
    setup.close()
    assert len(range(2, 31)) == CAPACITY

    outcomes = run_race(write_urls, net.id, PROCESSES, ATTEMPTS)

    assert len(outcomes) == PROCESSES * ATTEMPTS
    unexpected = [o for o in outcomes if o[0] == "unexpected"]
    assert unexpected == []
    errors = collections.Counter(o[1] for o in outcomes if o[0] == "error")
    created = [o[1] for o in outcomes if o[0] == "ok"]
    # Every address is handed out exactly once; the rest get the typed error.
    assert len(created) == CAPACITY
    assert errors == {"IpAddressGenerationFailure": PROCESSES * ATTEMPTS - CAPACITY}
    ips = [ip for _, _, fixed in created for _, ip in fixed]
    assert len(ips) == len(set(ips)) == CAPACITY
    assert {ip.rsplit(".", 1)[1] for ip in ips} == {str(i) for i in range(2, 31)}
    macs = [mac for _, mac, _ in created]
    assert len(set(macs)) == CAPACITY
    for url in read_urls:
        reader = NetworkService.from_settings(database_url=url, create_schema=False)
        stored = {p.id: p for p in reader.list_ports(ctx, network_id=net.id)}
        reader.close()
        assert set(stored) == {port_id for port_id, _, _ in created}
        for port_id, mac, fixed in created:
            assert stored[port_id].mac_address == mac
            assert [(f.subnet_id, f.ip_address) for f in stored[port_id].fixed_ips] == fixed
            assert fixed[0][0] == sub.id
    return outcomes


def test_concurrent_port_creation_exhausts_cleanly(db_url):
    _race([db_url], [db_url])


def test_concurrent_port_creation_on_galera_nodes(galera_urls):
    writers = [galera.without_sync_wait(u) for u in galera_urls]
    outcomes = _race(writers, galera_urls)
    retries = [o[2]["retries"] for o in outcomes]
    worst = max(outcomes, key=lambda o: o[2]["retries"])
    assert max(retries) <= MAX_RETRIES, (collections.Counter(retries), worst[2]["conflicts_at"])
    # Lost races are retried quietly: no ERROR tracebacks in the writers.
    assert sum(o[2]["errors_logged"] for o in outcomes) == 0
