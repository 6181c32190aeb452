"""A real live migration: a QEMU guest moves between two hosts while a peer pings it.

Three namespace hosts share one SQLite file and one VXLAN network (the
linuxbridge driver, DHCP on). The guest is a QEMU ``microvm`` booted on h1 on
the tap the library made for its port (vif type ``tap``); it gets its address
by DHCP. A peer guest on h3 pings it every 50 ms while the guest is moved
h1 -> h2 -> h1 -> h2 with QEMU's own live migration over a Unix socket, and
Nova's network calls of a live migration go to ``nova_api.API`` on the
service of the host Nova would call them on:

1. conductor: ``bind_ports_to_host`` (INACTIVE binding on the destination);
2. destination (``pre_live_migration``): ``setup_networks_on_host`` plugs the
   tap there; every host's next sync round adds it to the VXLAN flood lists;
3. QEMU migrates (``-incoming unix:...`` on the destination, QMP ``migrate``);
4. source (``_post_live_migration``): ``migrate_instance_start`` activates the
   destination's binding; the source QEMU goes;
5. destination (``post_live_migration_at_destination``):
   ``setup_networks_on_host`` and ``migrate_instance_finish``; then the
   source's binding and tap go (``setup_networks_on_host(teardown=True)`` /
   ``cleanup_instance_network_on_host``).

A fourth move (h2 -> h1) has the destination QEMU announce nothing (no
RARP, no gratuitous ARP from the guest): the pings must come back as soon as
the destination's ``setup_networks_on_host`` has made its bridge forget the
old path to the guest's MAC (the VXLAN device), not after the entry ages out.

After each move: at most 2 pings lost (with announcements), the guest's MAC is learned on the new
host's tap and nowhere on the old path (``bridge fdb`` on all three hosts),
nothing of the guest is left on the old host, and the port is ACTIVE there.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import types

import pytest

from naas_lib import NetworkService, RequestContext
from naas_lib.drivers.linuxbridge import names
from naas_lib.virt import nova_api
from tests.functional import fdb
from tests.functional.hosts_topology import ping, wait_until
from tests.guests import qemu

pytestmark = pytest.mark.functional

ADMIN = RequestContext(project_id="admin", user_id="test", roles=["admin"])
NOVA = types.SimpleNamespace(project_id="admin", user_id="nova", roles=["admin"],
                             is_admin=True)
#: The issue's target: pings lost at a 50 ms interval, per migration.
MAX_LOST = 2
MOVES = (("h1", "h2"), ("h2", "h1"), ("h1", "h2"))
#: Without any announcement the guest is reached once its new host's bridge
#: forgot the old path: within this many seconds of that host's call.
RESUME_AFTER_FLUSH = 1.0


class Pinger:
    """``ping -i 0.05`` from a namespace; counts the replies missing inside its run."""

    def __init__(self, netns: str, address: str, out_path) -> None:
        self.out_path = out_path
        self.out = open(out_path, "w")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", netns, "ping", "-n", "-D", "-i", "0.05", "-W", "1",
             address], stdout=self.out, stderr=subprocess.STDOUT)

    def replies(self) -> dict[int, float]:
        """Sequence number -> time of its reply (epoch seconds), so far."""
        return {int(seq): float(ts) for ts, seq in re.findall(
            r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)",
            self.out_path.read_text(), re.M)}

    def stop(self) -> dict[str, float | int]:
        """Stop; sent, received and lost between the first and the last reply, and the
        time of the first reply after ``since`` (epoch seconds)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=5)
        self.out.close()
        replies = self.replies()
        if not replies:
            return {"received": 0, "lost": -1, "sent": 0}
        first, last = min(replies), max(replies)
        lost = sum(1 for seq in range(first, last + 1) if seq not in replies)
        return {"sent": last - first + 1, "received": len(replies), "lost": lost}

    def first_reply_after(self, moment: float) -> float | None:
        later = [ts for ts in self.replies().values() if ts > moment]
        return min(later) if later else None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.out.close()


@pytest.fixture
def cloud(topo, tmp_path):
    url = f"sqlite:///{tmp_path}/naas.sqlite"
    hosts = {f"h{i}": topo.host(i, url, linuxbridge={"dhcp": i != 3}) for i in (1, 2, 3)}
    conductor = NetworkService.from_settings(database_url=url)
    topo.services.append(conductor)
    api = {name: nova_api.API(svc) for name, svc in hosts.items()}
    api["conductor"] = nova_api.API(conductor)
    net = conductor.create_network(ADMIN, name="live", network_type="vxlan")
    conductor.create_subnet(ADMIN, network_id=net.id, cidr="10.61.0.0/24")
    peer_ns = topo.guest("peer")
    peer = conductor.create_port(ADMIN, network_id=net.id, binding_profile={
        "netns": peer_ns, "ifname": "eth0", "configure_ip": True})
    hosts["h3"].attach_port(ADMIN, peer.id, f"vif-{peer.id}", host="h3")
    return types.SimpleNamespace(topo=topo, hosts=hosts, api=api, net=net, peer_ns=peer_ns,
                                 conductor=conductor, index={"h1": 1, "h2": 2, "h3": 3})


def _sync_all(cloud) -> None:
    for svc in cloud.hosts.values():
        svc.sync()


@pytest.fixture
def guests(tmp_path):
    with qemu.guest_pool(tmp_path / "qemu") as pool:
        yield pool


def test_live_migrations_back_and_forth_lose_at_most_two_pings(cloud, guests,
                                                                    tmp_path):
    topo, api = cloud.topo, cloud.api
    inst = types.SimpleNamespace(uuid="0e6f7c1a-0000-4000-8000-00000000a11e", name="vm",
                                 project_id="admin", host="h1")
    req = types.SimpleNamespace(objects=[types.SimpleNamespace(
        network_id=cloud.net.id, port_id=None, address=None, binding_profile=None)])
    vif = api["h1"].allocate_for_instance(NOVA, inst, req, bind_host_id="h1")[0]
    address = vif["network"]["subnets"][0]["ips"][0]["address"]
    mac, tap = vif["address"], vif["devname"]
    assert vif["type"] == "tap" and tap == names.tap(vif["id"])
    _sync_all(cloud)

    vm = guests.start("vm0", topo.host_ns(1), [qemu.Nic(tap, mac)])
    assert vm.wait_lease("eth0", timeout=90)["ip"] == address
    assert ping(cloud.peer_ns, address, deadline=10), "peer cannot reach the booted guest"

    figures = []
    moves = [(src, dst, True) for src, dst in MOVES] + [("h2", "h1", False)]
    for number, (src, dst, announce) in enumerate(moves, start=1):
        src_ns, dst_ns = topo.host_ns(cloud.index[src]), topo.host_ns(cloud.index[dst])
        migration = {"migration_type": "live-migration", "source_compute": src,
                     "dest_compute": dst}
        # conductor, then the destination's pre_live_migration
        api["conductor"].bind_ports_to_host(NOVA, inst, dst)
        api[dst].setup_networks_on_host(NOVA, inst, dst)
        _sync_all(cloud)  # every host's next round: flood lists include the destination
        assert topo.master_of(dst_ns, tap) == names.bridge(cloud.net.id)
        assert cloud.conductor.get_port(ADMIN, vif["id"]).status == "ACTIVE"

        incoming = guests.start(f"vm{number}", dst_ns, [qemu.Nic(tap, mac)],
                                incoming=f"unix:{tmp_path / f'migrate-{number}.sock'}",
                                announce=announce)
        pinger = Pinger(cloud.peer_ns, address, tmp_path / f"ping-{number}.txt")
        try:
            wait_until(lambda p=pinger: "bytes from" in p.out_path.read_text(), 10, 0.05)
            time.sleep(0.3)
            status = vm.migrate_to(incoming)
            done = time.time()
            # source's _post_live_migration: activate, then the source QEMU goes
            api[src].migrate_instance_start(NOVA, inst, migration)
            vm.stop()
            # destination's post_live_migration_at_destination
            api[dst].setup_networks_on_host(NOVA, inst, dst)
            settled = time.time()
            api[dst].migrate_instance_finish(NOVA, inst, migration, None)
            inst.host = dst
            api[dst].setup_networks_on_host(NOVA, inst, src, teardown=True)
            api[src].cleanup_instance_network_on_host(NOVA, inst, src)
            time.sleep(1.0)
            ping_figures = pinger.stop()
        finally:
            pinger.kill()
        vm = incoming
        assert vm.qmp("query-status")["status"] == "running"
        resumed = pinger.first_reply_after(done)
        figures.append({"move": f"{src}->{dst}", "announce": announce,
                        "lost": ping_figures["lost"], "sent": ping_figures["sent"],
                        "resumed_ms": round((resumed - done) * 1000) if resumed else None,
                        "qemu_total_ms": status.get("total-time"),
                        "qemu_downtime_ms": status.get("downtime")})
        print(f"\nlive migration {number} {src}->{dst}"
              f"{'' if announce else ' (no announcement)'}: {ping_figures['lost']} of "
              f"{ping_figures['sent']} pings lost (50 ms interval), replies again "
              f"{figures[-1]['resumed_ms']} ms after QEMU completed; QEMU total "
              f"{status.get('total-time')} ms, downtime {status.get('downtime')} ms")
        assert resumed is not None, f"no reply after the migration: {figures}"
        if announce:
            assert 0 <= ping_figures["lost"] <= MAX_LOST, figures
        else:
            # only the destination forgetting the old path brings the pings back
            assert resumed <= settled + RESUME_AFTER_FLUSH, figures

        # nothing of the guest left on the old host; its MAC learned at its new place
        _sync_all(cloud)
        assert tap not in topo.links(src_ns)
        bindings = cloud.conductor.list_port_bindings(ADMIN, vif["id"])
        assert [(b.host, b.status) for b in bindings] == [(dst, "ACTIVE")]
        port = cloud.conductor.get_port(ADMIN, vif["id"])
        assert (port.binding_host_id, port.status) == (dst, "ACTIVE")
        assert ping(cloud.peer_ns, address, deadline=5)
        vxlan = names.vxlan(cloud.net.id)
        assert fdb.learned_on(dst_ns, mac) == {tap}
        assert fdb.learned_on(src_ns, mac) <= {vxlan}
        assert fdb.learned_on(topo.host_ns(3), mac) == {vxlan}
        for ns in (src_ns, dst_ns, topo.host_ns(3)):
            # no VXLAN entry pins the MAC to a host's endpoint (old or new)
            assert fdb.pinned(ns, mac) == [], fdb.entries(ns, mac)
    print(f"\nlive migration figures: {figures}")
