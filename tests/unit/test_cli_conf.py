"""The configuration a ``naas`` command builds: the service's own builder, the files' driver."""

from __future__ import annotations

import argparse

import pytest

from naas_lib.cli import common


def options(tmp_path, *files: str) -> argparse.Namespace:
    return argparse.Namespace(config_file=list(files) or None,
                              database_url=f"sqlite:///{tmp_path / 'c.sqlite'}")


def test_without_files_the_driver_is_noop_and_the_url_is_the_option(tmp_path):
    conf = common.build_conf(options(tmp_path))
    assert conf.driver == "noop"
    assert conf.database.connection == f"sqlite:///{tmp_path / 'c.sqlite'}"


def test_the_driver_named_by_a_config_file_is_kept_with_its_options(tmp_path):
    path = tmp_path / "naas.conf"
    path.write_text("[DEFAULT]\ndriver = linuxbridge\nhost = h7\n"
                    "[linuxbridge]\nvxlan_endpoint = 10.9.9.9\n")
    conf = common.build_conf(options(tmp_path, str(path)))
    assert (conf.driver, conf.host) == ("linuxbridge", "h7")
    assert conf.linuxbridge.vxlan_endpoint == "10.9.9.9"
    assert common.build_conf(options(tmp_path, str(path)), host="h8").host == "h8"


def test_a_missing_or_broken_file_is_a_command_error(tmp_path):
    with pytest.raises(common.CommandError, match="does not exist"):
        common.build_conf(options(tmp_path, str(tmp_path / "nope.conf")))
    broken = tmp_path / "broken.conf"
    broken.write_text("this is not ini\n")
    with pytest.raises(common.CommandError, match="bad configuration"):
        common.build_conf(options(tmp_path, str(broken)))
