"""A backend that stops under load costs the clients nothing; drained backends get no new requests."""
import json
import shlex
import time

import pytest
from conftest import CURL, LB, NAME, flat, node, pebble_root, playbook

testinfra_hosts = [LB]


@pytest.fixture(scope="module", autouse=True)
def trust_pebble(host):
    pebble_root(host)


def hosts_seen(host, count=12):
    return {json.loads(host.check_output(f"{CURL} https://{NAME}/api/whoami"))["host"] for _ in range(count)}


def test_backend_stopped_under_load_no_failed_request(host):
    app_b = node("mol-app-b")
    # Bounded load: 300 GETs, about 40 a second (under the API limit), run on the LB itself.
    script = (f"for i in $(seq 1 300); do {CURL} -o /dev/null -w '%{{http_code}}\\n' https://{NAME}/api/whoami; "
              "sleep 0.02; done > /var/tmp/failover-codes; echo done >> /var/tmp/failover-codes")
    host.run("rm -f /var/tmp/failover-codes")
    # A transient unit, so the load outlives this docker exec.
    host.run_expect([0], f"systemd-run --quiet --collect --unit=koinonia-failover-load sh -c {shlex.quote(script)}")
    time.sleep(2)
    assert app_b.run("systemctl stop koinonia-api").rc == 0
    try:
        host.run("for i in $(seq 1 60); do grep -q done /var/tmp/failover-codes && break; sleep 1; done")
        codes = host.file("/var/tmp/failover-codes").content_string.split()
    finally:
        app_b.run("systemctl start koinonia-api")
    assert codes[-1] == "done"
    assert len(codes) == 301
    assert set(codes[:-1]) == {"200"}, {c: codes.count(c) for c in set(codes)}


def test_drain_enable_and_never_zero_active(host):
    host.run("for i in $(seq 1 30); do curl -sf http://mol-app-b:3000/health >/dev/null && break; sleep 1; done")
    drain = playbook("playbooks/upstreams.yml", "-e", "backend=app-b", "-e", "change=drain")
    assert drain.returncode == 0, drain.stdout[-2000:]
    try:
        assert hosts_seen(host) == {"mol-app-a"}
        # A full rollout keeps the drained backend drained.
        rollout = playbook("molecule/nginx_lb/converge.yml", "--limit", "mol-lb")
        assert rollout.returncode == 0, rollout.stdout[-2000:]
        assert hosts_seen(host) == {"mol-app-a"}
        # Draining the last active backend is refused and changes nothing.
        conf = host.file("/etc/nginx/conf.d/koinonia-lb.conf").sha256sum
        last = playbook("playbooks/upstreams.yml", "-e", "backend=app-a", "-e", "change=drain")
        assert last.returncode != 0
        assert "no active" in flat(last.stdout + last.stderr)
        assert host.file("/etc/nginx/conf.d/koinonia-lb.conf").sha256sum == conf
    finally:
        enable = playbook("playbooks/upstreams.yml", "-e", "backend=app-b", "-e", "change=enable")
    assert enable.returncode == 0, enable.stdout[-2000:]
    assert hosts_seen(host) == {"mol-app-a", "mol-app-b"}
