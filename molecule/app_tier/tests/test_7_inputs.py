"""Bad input is refused fleet-wide before any host changes, with a message naming the variable (never
the secret), and every host stays byte-for-byte as it was; a --limit run sizes the pools from every
backend's facts. (Hostile but printable passwords: test_9_rotation.py rotates to them.)"""
import json
import re

import pytest

import fleet
from fleet import BACKENDS, playbook
from molecule_helpers import flat

HOSTS = ["at-lb1", *BACKENDS, "at-db1", "at-db2", "at-cache1", "at-mon1"]
# Everything the roles write that nothing else changes: /etc (configs, units, cron, the LB's
# upstream record), the tools in /usr/local, the app's env file and live release.
SNAPSHOT = ("find /etc /usr/local -xdev -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum; "
            "sha256sum /srv/koinonia-api/shared/env 2>/dev/null; readlink /srv/koinonia-api/current; true")
POOL = {"backends": 3, "processes_per_backend": 2, "connection_limit": 5, "postgres_max_connections": 100}
SERVERS = [{"name": f"at-app{i}", "address": f"172.30.58.2{i}", "port": 3000} for i in (1, 2, 3)]
NEWLINE_SECRET = "first-line-of-it\nsecond-line-of-it"


def snapshot():
    return {name: fleet.host(name).check_output(SNAPSHOT) for name in HOSTS}


def changed(output):
    recap = output[output.rindex("PLAY RECAP"):]
    return dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", recap, re.M))


@pytest.fixture(scope="module")
def before():
    return snapshot()


REFUSALS = {
    "oversubscribed plan": ({"fleet_pool": {**POOL, "default_pool_size": 30, "reserve_pool_size": 5,
                                            "max_db_connections": 100}}, "max_db_connections=100"),
    "no backends": ({"nginx_lb_backends": []}, "the server list is empty"),
    "duplicate backends": ({"nginx_lb_backends": [SERVERS[0], {**SERVERS[1], "address": "172.30.58.21"}]},
                           "172.30.58.21:3000"),
    "unknown upstream state": ({"nginx_lb_backends": [SERVERS[0], {**SERVERS[1], "state": "paused"}]}, "paused"),
    "replica pointed at itself": ({"postgresql_role": "replica", "postgresql_primary_host": "172.30.58.31",
                                   "postgresql_replication_slot": "at_db1"}, "is this replica itself"),
    "password with a line break": ({"fleet_redis_password": NEWLINE_SECRET},
                                   "redis_password must be printable characters"),
    "new Redis password without the one Redis has": ({"fleet_redis_password": "a-new-redis-password-alone"},
                                                      "accepts neither redis_password nor redis_password_previous"),
    "firewall flow with a bad port": ({"fleet_firewall_extra_flows": [{"name": "bad", "to": "redis", "ports": [70000],
                                                                         "from": ["backends"]}]},
                                      "ports[0] must be between 1 and 65535, got 70000"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_input_is_refused_before_any_host_changes(case, before):
    extra, message = REFUSALS[case]
    run = playbook("site.yml", "-e", json.dumps(extra))
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    assert message in flat(out), out[-3000:]
    assert "PLAY [Phase 1" not in out, "a play after the preflight ran"
    assert set(changed(out).values()) == {"0"}, out[-2000:]
    for part in NEWLINE_SECRET.split("\n"):
        assert part not in out
    assert snapshot() == before


def test_a_limited_run_sizes_the_pools_from_every_backend():
    """--limit at-db1: the backends are outside the run, but the pool plan still counts their
    vCPUs (before, it fell back to 1 worker per backend and shrank PgBouncer's pools)."""
    run = playbook("site.yml", "--limit", "at-db1")
    assert run.returncode == 0, run.stdout[-3000:]
    assert changed(run.stdout) == {"at-db1": "0"}, run.stdout[-3000:]
