"""What the nginx_lb tests share besides tests/molecule_helpers.py: the LB, its name, curl and load through it."""
import shlex

import loadgen  # the drills' load tool, tests/loadgen.py
from molecule_helpers import address, target

LB = target("mol-lb")
NAME = "api.koinonia.test"
# curl as a client of the LB's HTTPS: the real name, resolved to loopback, trusting Pebble's root.
CURL = f"curl -s --max-time 10 --resolve {NAME}:443:127.0.0.1 --cacert /var/tmp/pebble-root.pem"


def load(routes, **kwargs):
    """A bounded load from the controller through the LB (tests/loadgen.py)."""
    return loadgen.Load(f"https://{address('mol-lb')}", routes, host_header=NAME, **kwargs)


def codes(host, url, count, parallel=1, extra=""):
    """HTTP status codes of `count` GETs (bounded), `parallel` at a time."""
    cmd = (f"seq {count} | xargs -P {parallel} -I{{}} {CURL} {extra} -o /dev/null -w '%{{http_code}}\\n' "
           + shlex.quote(url))
    return host.check_output(cmd).split()


def pebble_root(host):
    host.run_expect([0], "curl -sk https://mol-acme:15000/roots/0 -o /var/tmp/pebble-root.pem")
