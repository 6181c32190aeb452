"""Element batches sent raw are what nft would have made, and all-or-nothing (root only).

A port's elements added as a raw nf_tables batch are deleted by nft's own
text commands (the kernel matches keys byte for byte, so this fails on any
difference of encoding), and the other way round; a batch the kernel refuses
leaves nothing behind and the runner reports nft's error.
"""

from __future__ import annotations

import pytest

from naas_lib import exceptions as exc
from naas_lib.drivers.linuxbridge import nft_elements as NE
from naas_lib.drivers.linuxbridge import portsec_rules as R
from naas_lib.drivers.linuxbridge.portsec import Libnftables, TrustedResponders
from tests.functional.netns import lab_for

pytestmark = pytest.mark.functional

GROUP = "3b99a4e1-c45e-470b-984d-f4849ae70616"


@pytest.fixture
def nft(tmp_path):
    with lab_for(tmp_path) as lab:
        run = Libnftables(lab.netns("host"))
        try:
            run(R.script(R.bridge_skeleton(TrustedResponders(prefixes=("dhv",)))
                         + R.inet_skeleton()))
            run(R.script(R.inet_group(R.SecurityGroup(GROUP, (), ("10.0.0.9",)))))
            yield run
        finally:
            run.close()


def _commands() -> tuple[list[str], list[str]]:
    """A port's element additions and the matching deletions (keys only)."""
    port = R.PortSpec(device="tape286aa74-c2", mac="fa:16:3e:50:31:ad",
                      fixed_ips=("10.90.0.3", "2001:db8::5"), allowed_address_pairs=(),
                      port_security_enabled=True, security_groups=(GROUP,))
    elements = R.port_elements(port, 0x292E)
    adds = (R.bridge_elements(elements, {})
            + [f"add element inet naas_sg h4_{GROUP} {{ 10.90.0.3 }}",
               f"add element inet naas_sg h6_{GROUP} {{ 2001:db8::5 }}"]
            + R.inet_port(port, 0x292E, (None, None), [GROUP]))
    deletes = (R.bridge_elements({}, elements)
               + [f"delete element inet naas_sg h4_{GROUP} {{ 10.90.0.3 }}",
                  f"delete element inet naas_sg h6_{GROUP} {{ 2001:db8::5 }}"]
               + R.inet_remove(0x292E, R.port_verdicts(port)))
    return adds, deletes


def _through_library(run: Libnftables, commands: list[str]) -> None:
    """Each command alone through libnftables itself (never the raw path)."""
    for command in commands:
        run("", tuple(command.split()))  # a command line, not a script: never translated


def _port_lines(run: Libnftables) -> list[str]:
    return [line for line in run("", ("list", "ruleset")).splitlines()
            if "tape286aa74-c2" in line or "0x1000292e" in line or "0x2000292e" in line
            or "10.90.0.3" in line or "2001:db8::5" in line]


def test_raw_additions_are_deleted_by_nfts_own_commands_and_back(nft):
    adds, deletes = _commands()
    assert NE.translate(R.script(adds)) is not None
    nft(R.script(adds))  # raw
    listed = "\n".join(_port_lines(nft))
    for text in ('"tape286aa74-c2" . fa:16:3e:50:31:ad . 10.90.0.3',
                 '"tape286aa74-c2" : 0x1000292e', "0x2000292e : jump sg_",
                 "0x20010db8000000000000000000000005", "fe80::f816:3eff:fe50:31ad"):
        assert text in listed
    _through_library(nft, deletes)  # fails unless every key matches byte for byte
    assert _port_lines(nft) == []
    _through_library(nft, adds)
    nft(R.script(deletes))  # raw
    assert _port_lines(nft) == []


def test_a_refused_batch_changes_nothing_and_reports_nfts_error(nft):
    adds, _deletes = _commands()
    broken = adds + ["add element inet naas_sg h4_nosuchgroup { 10.1.1.1 }"]
    assert NE.translate(R.script(broken)) is not None
    with pytest.raises(exc.DriverError, match="nft failed"):
        nft(R.script(broken))
    assert _port_lines(nft) == []
    nft(R.script(adds))  # the socket still works after the refusal
    assert _port_lines(nft) != []
