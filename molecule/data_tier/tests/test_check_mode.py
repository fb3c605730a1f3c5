"""On the converged data tier, a --check --diff run of the same playbook reports no change."""
import re

from conftest import PGB
from molecule_helpers import playbook

testinfra_hosts = [PGB]


def test_check_diff_reports_no_change():
    result = playbook("molecule/data_tier/converge.yml", "--check", "--diff", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = result.stdout[result.stdout.rindex("PLAY RECAP"):]
    hosts = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", recap, re.M)
    assert {h for h, _ in hosts} == {"mol-db-primary", "mol-db-replica", "mol-pgb"}
    assert all(changed == "0" for _, changed in hosts), recap
