"""The committed sample configuration is what the generator prints today.

When an option is added or its help changes, regenerate the sample with::

    .venv/bin/oslo-config-generator --config-file etc/oslo-config-generator/naas.conf
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from importlib import metadata

from naas_lib import conf as naas_conf
from naas_lib.conf import opts as naas_opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "doc", "source", "sample.conf")
GENERATOR_CONF = os.path.join(ROOT, "etc", "oslo-config-generator", "naas.conf")
REGENERATE = ".venv/bin/oslo-config-generator --config-file etc/oslo-config-generator/naas.conf"


def _generate(tmp_path) -> str:
    out = tmp_path / "sample.conf"
    subprocess.run(
        [sys.executable, "-c", "from oslo_config.generator import main; main()",
         "--config-file", GENERATOR_CONF, "--output-file", str(out)],
        check=True, capture_output=True, text=True, cwd=ROOT, timeout=300)
    return out.read_text()


def test_committed_sample_is_up_to_date(tmp_path):
    with open(SAMPLE) as f:
        committed = f.read()
    assert _generate(tmp_path) == committed, f"sample out of date; run: {REGENERATE}"


def test_entry_point_names_the_complete_list():
    (ep,) = [e for e in metadata.entry_points(group="oslo.config.opts") if e.name == "naas_lib"]
    assert ep.load() is naas_opts.list_opts


def test_sample_has_every_group_naas_reads():
    parser = configparser.ConfigParser()
    parser.read(SAMPLE)
    groups = set(parser.sections()) | {"DEFAULT"}
    wanted = {"DEFAULT", naas_conf.NETWORK_GROUP, naas_conf.HOSTS_GROUP, "database",
              "oslo_messaging_notifications", "oslo_policy"}
    wanted |= {name for name, _ in naas_opts.driver_opts()}
    assert wanted <= groups, wanted - groups


def test_every_naas_option_has_help():
    missing = [f"[{group}] {opt.dest}" for group, opts in naas_conf.list_opts()
               for opt in opts if not (opt.help or "").strip()]
    missing += [f"[{group}] {opt.dest}" for group, opts in naas_opts.driver_opts()
                for opt in opts if not (opt.help or "").strip()]
    assert missing == []


def test_naas_config_sample_prints_the_same(tmp_path):
    naas = os.path.join(os.path.dirname(sys.executable), "naas")
    out = subprocess.run([naas, "config", "sample"], capture_output=True, text=True,
                         timeout=300, check=True)
    with open(SAMPLE) as f:
        assert out.stdout == f.read()
