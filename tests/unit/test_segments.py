"""Segmentation: range parsing, tenant types, VNI/VLAN allocation, flat networks, settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from naas_lib import NetworkService, constants
from naas_lib import exceptions as exc
from naas_lib.db import models
from naas_lib.network_types import segment_pool as segments

# -- parsing ----------------------------------------------------------------


def test_parse_vni_ranges_sorted():
    ranges = segments.parse_vni_ranges(["100:200", "1:10"])
    assert [(r.first, r.last) for r in ranges] == [(1, 10), (100, 200)]
    assert all(r.network_type == "vxlan" and r.physical_network == "" for r in ranges)
    assert [r.as_text() for r in ranges] == ["1:10", "100:200"]


@pytest.mark.parametrize("entry", ["1-10", "a:b", "10", "1:2:3", "0:10", "1:16777216", "10:5"])
def test_parse_vni_ranges_bad(entry):
    with pytest.raises(exc.InvalidInput, match="vni_ranges"):
        segments.parse_vni_ranges([entry])


def test_parse_vni_ranges_overlap():
    with pytest.raises(exc.InvalidInput, match="overlaps"):
        segments.parse_vni_ranges(["1:10", "10:20"])


def test_parse_vlan_ranges():
    ranges, physnets = segments.parse_vlan_ranges(["physnet1:100:199", "physnet2",
                                                   "physnet1:300:399"])
    assert physnets == {"physnet1", "physnet2"}
    assert [r.as_text() for r in ranges] == ["physnet1:100:199", "physnet1:300:399"]
    # the same ids on different physical networks do not overlap
    ranges, _ = segments.parse_vlan_ranges(["a:1:10", "b:1:10"])
    assert len(ranges) == 2


@pytest.mark.parametrize("entry", [":1:10", "p:1", "p:x:10", "p:0:10", "p:1:4095", "p:1:2:3",
                                   "p:10:5"])
def test_parse_vlan_ranges_bad(entry):
    with pytest.raises(exc.InvalidInput, match="network_vlan_ranges"):
        segments.parse_vlan_ranges([entry])


def test_parse_vlan_overlap():
    with pytest.raises(exc.InvalidInput, match="overlaps"):
        segments.parse_vlan_ranges(["p:1:10", "p:5:20"])


def test_bad_ranges_refuse_to_start(make_service):
    with pytest.raises(exc.InvalidInput):
        make_service(vni_ranges=["5:1"])
    with pytest.raises(exc.InvalidInput):
        make_service(tenant_network_types=["gre"])
    with pytest.raises(exc.InvalidInput, match="base_mac"):
        make_service(base_mac="01:00:00:00:00:00")
    with pytest.raises(exc.InvalidInput, match="base_mac"):
        make_service(base_mac="nonsense")
    with pytest.raises(exc.InvalidInput, match="base_mac"):
        make_service(base_mac="fa:16:3e")  # truncated, not 00:fa:00:16:00:3e


# -- tenant networks ---------------------------------------------------------


def test_default_tenant_type_is_vxlan(service, ctx):
    a = service.create_network(ctx)
    b = service.create_network(ctx)
    assert (a.network_type, b.network_type) == ("vxlan", "vxlan")
    assert a.physical_network is None
    assert a.segmentation_id != b.segmentation_id
    assert constants.MIN_VNI <= a.segmentation_id <= constants.MAX_VNI


def test_default_tenant_types_option():
    from naas_lib.service import build_conf

    conf = build_conf(database_url="sqlite://")
    assert list(conf.network.tenant_network_types) == ["vxlan", "local"]


def test_vni_released_on_delete_and_reused(make_service, ctx):
    svc = make_service(vni_ranges=["10:12"])
    nets = [svc.create_network(ctx) for _ in range(3)]
    assert sorted(n.segmentation_id for n in nets) == [10, 11, 12]
    svc.delete_network(ctx, nets[1].id)
    again = svc.create_network(ctx)
    assert (again.network_type, again.segmentation_id) == ("vxlan", nets[1].segmentation_id)


def test_exhausted_vni_falls_back_to_local(make_service, ctx):
    svc = make_service(vni_ranges=["10:11"], tenant_network_types=["vxlan", "local"])
    vx = [svc.create_network(ctx) for _ in range(2)]
    assert {n.network_type for n in vx} == {"vxlan"}
    local = svc.create_network(ctx)
    assert (local.network_type, local.segmentation_id) == ("local", None)
    assert local.mtu == 1500  # no encapsulation


def test_exhausted_vni_without_fallback(make_service, ctx):
    svc = make_service(vni_ranges=["10:11"], tenant_network_types=["vxlan"])
    svc.create_network(ctx)
    svc.create_network(ctx)
    before = svc.list_networks(ctx)
    with pytest.raises(exc.NoNetworkAvailable):
        svc.create_network(ctx)
    assert svc.list_networks(ctx) == before


def test_local_only_tenant_type(make_service, ctx):
    svc = make_service(tenant_network_types=["local"])
    assert svc.create_network(ctx).network_type == "local"


def test_huge_vni_range_is_not_enumerated(make_service, ctx):
    svc = make_service(vni_ranges=["1:16777215"])
    with svc.db.reader() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(models.SegmentFree)) == 0
    assert svc.create_network(ctx).segmentation_id == 1


# -- admin-requested segments -------------------------------------------------


def test_admin_requests_specific_free_vni(service, admin_ctx, ctx):
    net = service.create_network(admin_ctx, network_type="vxlan", segmentation_id=4242)
    assert (net.network_type, net.segmentation_id) == ("vxlan", 4242)
    with pytest.raises(exc.SegmentationIdInUse):
        service.create_network(admin_ctx, network_type="vxlan", segmentation_id=4242)
    # a tenant network never gets the taken id
    assert service.create_network(ctx).segmentation_id != 4242


def test_requested_vni_inside_range_is_skipped_by_automatic(make_service, admin_ctx, ctx):
    svc = make_service(vni_ranges=["10:12"])
    svc.create_network(admin_ctx, network_type="vxlan", segmentation_id=10)
    ids = sorted(svc.create_network(ctx).segmentation_id for _ in range(2))
    assert ids == [11, 12]
    # the range is full now: the default types fall back to local
    assert svc.create_network(ctx).network_type == "local"


def test_requested_vni_released_back(make_service, admin_ctx):
    svc = make_service(vni_ranges=["10:11"], tenant_network_types=["vxlan"])
    n = svc.create_network(admin_ctx, network_type="vxlan", segmentation_id=10)
    svc.delete_network(admin_ctx, n.id)
    got = sorted(svc.create_network(admin_ctx).segmentation_id for _ in range(2))
    assert got == [10, 11]


@pytest.mark.parametrize("seg", [0, 16777216, "x", True])
def test_requested_vni_out_of_range(service, admin_ctx, db_unchanged, seg):
    with db_unchanged(), pytest.raises(exc.InvalidInput):
        service.create_network(admin_ctx, network_type="vxlan", segmentation_id=seg)


def test_vxlan_takes_no_physnet(service, admin_ctx):
    with pytest.raises(exc.InvalidNetworkType):
        service.create_network(admin_ctx, network_type="vxlan", physical_network="physnet1")


def test_provider_attrs_need_network_type(service, admin_ctx):
    with pytest.raises(exc.InvalidInput, match="network_type"):
        service.create_network(admin_ctx, segmentation_id=5)


def test_unknown_network_type(service, admin_ctx):
    with pytest.raises(exc.InvalidInput):
        service.create_network(admin_ctx, network_type="gre")


def test_local_network_explicit(service, admin_ctx):
    net = service.create_network(admin_ctx, network_type="local")
    assert (net.network_type, net.segmentation_id, net.physical_network) == ("local", None, None)
    with pytest.raises(exc.InvalidNetworkType):
        service.create_network(admin_ctx, network_type="local", segmentation_id=3)


# -- flat ------------------------------------------------------------------


def test_flat_requires_configured_physnet(make_service, admin_ctx):
    svc = make_service(flat_networks=["physnet1"])
    with pytest.raises(exc.InvalidNetworkType, match="required"):
        svc.create_network(admin_ctx, network_type="flat")
    with pytest.raises(exc.InvalidNetworkType, match="flat_networks"):
        svc.create_network(admin_ctx, network_type="flat", physical_network="physnet9")
    with pytest.raises(exc.InvalidNetworkType):
        svc.create_network(admin_ctx, network_type="flat", physical_network="physnet1",
                           segmentation_id=4)
    net = svc.create_network(admin_ctx, network_type="flat", physical_network="physnet1")
    assert (net.network_type, net.physical_network, net.segmentation_id) == (
        "flat", "physnet1", None)


def test_one_flat_network_per_physnet(make_service, admin_ctx):
    svc = make_service(flat_networks=["physnet1", "physnet2"])
    first = svc.create_network(admin_ctx, network_type="flat", physical_network="physnet1")
    with pytest.raises(exc.FlatNetworkInUse):
        svc.create_network(admin_ctx, network_type="flat", physical_network="physnet1")
    svc.create_network(admin_ctx, network_type="flat", physical_network="physnet2")
    svc.delete_network(admin_ctx, first.id)
    svc.create_network(admin_ctx, network_type="flat", physical_network="physnet1")


def test_flat_wildcard(make_service, admin_ctx):
    svc = make_service(flat_networks=["*"])
    assert svc.create_network(admin_ctx, network_type="flat",
                              physical_network="anything").physical_network == "anything"


def test_no_flat_physnets_configured(service, admin_ctx):
    with pytest.raises(exc.InvalidNetworkType):
        service.create_network(admin_ctx, network_type="flat", physical_network="physnet1")


# -- vlan ----------------------------------------------------------------------


def test_vlan_model_with_ranges(make_service, admin_ctx):
    svc = make_service(network_vlan_ranges=["physnet1:100:101", "physnet2"])
    a = svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet1")
    b = svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet1")
    assert sorted([a.segmentation_id, b.segmentation_id]) == [100, 101]
    assert a.mtu == 1500  # no encapsulation overhead
    with pytest.raises(exc.NoNetworkAvailable):
        svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet1")
    # a specific id on a provider-only physnet
    c = svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet2",
                           segmentation_id=7)
    assert c.segmentation_id == 7
    with pytest.raises(exc.SegmentationIdInUse):
        svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet2",
                           segmentation_id=7)
    # the same VLAN id on another physical network is a different segment
    d = svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet1",
                           segmentation_id=7)
    assert d.segmentation_id == 7
    with pytest.raises(exc.InvalidNetworkType):
        svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet3")
    with pytest.raises(exc.InvalidInput):
        svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet2",
                           segmentation_id=4095)


def test_vlan_released_on_delete(make_service, admin_ctx):
    svc = make_service(network_vlan_ranges=["physnet1:100:100"])
    a = svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet1")
    svc.delete_network(admin_ctx, a.id)
    b = svc.create_network(admin_ctx, network_type="vlan", physical_network="physnet1")
    assert b.segmentation_id == 100


# -- deployment settings ---------------------------------------------------------


@pytest.fixture
def db_file_url(tmp_path):
    return f"sqlite:///{tmp_path / 'naas.sqlite'}"


def test_settings_stored_on_first_start(make_service, db_file_url):
    svc = make_service(database_url=db_file_url, vni_ranges=["100:200"],
                       base_mac="fa:16:3e:12:00:00")
    with svc.db.reader() as session:
        stored = dict(session.execute(sa.select(models.DeploymentSetting.name,
                                                models.DeploymentSetting.value)).all())
    assert stored["vni_ranges"] == "100:200"
    assert stored["base_mac"] == "fa:16:3e:12:00:00"


def test_second_host_with_same_settings_starts(make_service, db_file_url, ctx):
    a = make_service(database_url=db_file_url, vni_ranges=["100:101"])
    b = make_service(database_url=db_file_url, vni_ranges=["100:101"])
    n1 = a.create_network(ctx)
    n2 = b.create_network(ctx)
    assert {n1.segmentation_id, n2.segmentation_id} == {100, 101}  # one shared allocation table
    assert b.get_network(ctx, n1.id) == n1


@pytest.mark.parametrize("other", [{"vni_ranges": ["100:300"]},
                                   {"base_mac": "fa:16:3f:00:00:00"},
                                   {"network_vlan_ranges": ["physnet1:1:10"]}])
def test_second_host_with_other_settings_refuses(make_service, db_file_url, other):
    make_service(database_url=db_file_url, vni_ranges=["100:200"])
    settings = {"vni_ranges": ["100:200"], **other}
    with pytest.raises(exc.ConfigMismatch) as info:
        NetworkService.from_settings(database_url=db_file_url, **settings)
    option = next(iter(other))
    assert option in str(info.value)
    assert "refusing to start" in str(info.value)


def test_without_vni_ranges_tenant_networks_are_local(make_service, ctx):
    svc = make_service(vni_ranges=[])
    assert svc.create_network(ctx).network_type == "local"


def test_unusable_only_tenant_type_is_an_error(make_service, ctx):
    svc = make_service(vni_ranges=[], tenant_network_types=["vxlan"])
    with pytest.raises(exc.InvalidNetworkType, match="vni_ranges"):
        svc.create_network(ctx)
    assert svc.list_networks(ctx) == []
