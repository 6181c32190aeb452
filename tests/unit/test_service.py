"""Building a service: one-line settings, unknown options, shared database files."""

from __future__ import annotations

import pytest

from naas_lib import NetworkService
from naas_lib import exceptions as exc


def test_unknown_setting_is_refused():
    with pytest.raises(exc.UnknownField, match="vni_range"):
        NetworkService.from_settings(database_url="sqlite://", vni_range=["1:10"])


def test_settings_reach_the_options(make_service):
    svc = make_service(host="compute-3", global_physnet_mtu=9000, vni_ranges=["5:6"],
                       flat_networks=["physnet1"])
    assert svc.host == "compute-3"
    assert svc.conf.network.global_physnet_mtu == 9000
    assert [r.as_text() for r in svc.parts.core.types.id_ranges()] == ["5:6"]
    assert svc.parts.core.types.get("flat").conf.flat_networks == ["physnet1"]


def test_context_manager_closes(ctx):
    with NetworkService.from_settings(database_url="sqlite://") as svc:
        assert svc.create_network(ctx).project_id == "project-a"


def test_unknown_driver_is_a_typed_error():
    with pytest.raises(exc.DriverNotFound):
        NetworkService.from_settings(database_url="sqlite://", driver="no-such-driver")


def test_embedded_file_is_created_and_migrated(tmp_path, ctx):
    path = tmp_path / "sub" / "naas.sqlite"
    with NetworkService.from_settings(database_url=f"sqlite:///{path}") as svc:
        net = svc.create_network(ctx)
    assert path.exists()
    with NetworkService.from_settings(database_url=f"sqlite:///{path}") as again:
        assert again.get_network(ctx, net.id) == net  # persisted, schema reused


def test_two_services_on_one_file_share_addresses(make_service, tmp_path, ctx):
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    a, b = make_service(database_url=url, host="h1"), make_service(database_url=url, host="h2")
    net = a.create_network(ctx)
    # 13 usable addresses
    a.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/28", enable_dhcp=False)
    got = []
    for i in range(13):
        svc = a if i % 2 else b
        got.append(svc.create_port(ctx, network_id=net.id).fixed_ips[0].ip_address)
    assert len(set(got)) == 13
    for svc in (a, b):
        with pytest.raises(exc.IpAddressGenerationFailure):
            svc.create_port(ctx, network_id=net.id)
    port = b.list_ports(ctx)[0]
    a.delete_port(ctx, port.id)
    assert b.create_port(ctx, network_id=net.id).fixed_ips == port.fixed_ips


def test_base_mac_spelling_does_not_split_a_deployment(make_service, tmp_path, ctx):
    url = f"sqlite:///{tmp_path / 'macs.sqlite'}"
    first = make_service(database_url=url, base_mac="FA-16-3E-00-00-00")
    second = make_service(database_url=url, base_mac="fa:16:3e:00:00:00")
    net = first.create_network(ctx, name="n")
    assert second.create_port(ctx, network_id=net.id).mac_address.startswith("fa:16:3e:")
