"""What every molecule scenario's tests share: the scenario's hosts, the repo's playbooks run
against them, container addresses, and output folded for substring checks.

Molecule's verifier puts this directory on PYTHONPATH (.config/molecule/config.yml), so tests
import it as `molecule_helpers` (and the load tool as `loadgen`).
"""
import os
import subprocess
from pathlib import Path

import testinfra

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[1]))


def target(name):
    """A scenario host as testinfra names it (for testinfra_hosts). The inventory directory, not
    molecule's file alone: a scenario's linked hosts.yml may say how to reach a host (ansible_host)."""
    return f"ansible://{name}?ansible_inventory={os.path.dirname(INVENTORY)}"


def node(name):
    """A scenario host for testinfra."""
    return testinfra.get_host(target(name))


def playbook(path, *args, timeout=900):
    """Run a playbook of the repo (path relative to its root) against the scenario's hosts, with the
    scenario's inventory directory (its group_vars and host_vars too); returns the CompletedProcess."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), KOINONIA_REPO_ROOT=str(ROOT),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", PY_COLORS="0")
    cmd = ["ansible-playbook", "-i", os.path.dirname(INVENTORY), str(ROOT / path), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def address(container):
    """A container's address on the scenario's network (the controller reaches it directly)."""
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           container], capture_output=True, text=True, check=True).stdout.strip()


def flat(text):
    """Output with line wrapping folded away, for substring checks."""
    return " ".join(text.split())
