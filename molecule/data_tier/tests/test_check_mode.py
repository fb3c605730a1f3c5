"""On the converged data tier, a --check --diff run of the same playbook reports no change."""
import os
import re
import subprocess

from conftest import PGB

testinfra_hosts = [PGB]
CONVERGE = os.path.join(os.path.dirname(__file__), "..", "converge.yml")


def test_check_diff_reports_no_change():
    result = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], CONVERGE, "--check", "--diff"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = result.stdout[result.stdout.rindex("PLAY RECAP"):]
    hosts = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", recap, re.M)
    assert {h for h, _ in hosts} == {"mol-db-primary", "mol-db-replica", "mol-pgb"}
    assert all(changed == "0" for _, changed in hosts), recap
