import os
import shlex
import subprocess
import sys

import testinfra

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
LB = f"ansible://mol-lb?ansible_inventory={INVENTORY}"
REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
sys.path.insert(0, os.path.join(REPO, "tests"))
import loadgen  # noqa: E402  (the drills' load tool, tests/loadgen.py)
NAME = "api.koinonia.test"
# curl as a client of the LB's HTTPS: the real name, resolved to loopback, trusting Pebble's root.
CURL = f"curl -s --max-time 10 --resolve {NAME}:443:127.0.0.1 --cacert /var/tmp/pebble-root.pem"


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def playbook(path, *args):
    """Run one of the repo's playbooks against the molecule hosts."""
    return subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, os.path.join(REPO, path), *args],
        capture_output=True, text=True, timeout=600, check=False,
    )


def address(container):
    """A container's address on the scenario's network (the controller reaches it directly)."""
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           container], capture_output=True, text=True, check=True).stdout.strip()


def load(routes, **kwargs):
    """A bounded load from the controller through the LB (tests/loadgen.py)."""
    return loadgen.Load(f"https://{address('mol-lb')}", routes, host_header=NAME, **kwargs)


def flat(text):
    return " ".join(text.split())


def codes(host, url, count, parallel=1, extra=""):
    """HTTP status codes of `count` GETs (bounded), `parallel` at a time."""
    cmd = (f"seq {count} | xargs -P {parallel} -I{{}} {CURL} {extra} -o /dev/null -w '%{{http_code}}\\n' "
           + shlex.quote(url))
    return host.check_output(cmd).split()


def pebble_root(host):
    host.run_expect([0], "curl -sk https://mol-acme:15000/roots/0 -o /var/tmp/pebble-root.pem")
