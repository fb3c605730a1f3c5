"""A backend that stops under load costs the clients nothing; drained backends get no new requests."""
import json
import time

import pytest
from conftest import CURL, LB, NAME, load, pebble_root
from molecule_helpers import address, flat, node, playbook

testinfra_hosts = [LB]


@pytest.fixture(scope="module", autouse=True)
def trust_pebble(host):
    pebble_root(host)


def hosts_seen(host, count=12):
    return {json.loads(host.check_output(f"{CURL} https://{NAME}/api/whoami"))["host"] for _ in range(count)}


def test_backend_stopped_under_load_no_failed_request(host):
    app_b = node("mol-app-b")
    # Bounded load from the controller (tests/loadgen.py): 300 GETs, 40 a second (under the API
    # limit), a new TLS connection for each.
    with load(["whoami GET /api/whoami 2 20"], max_requests=300, duration=60, new_connection=True) as traffic:
        time.sleep(2)
        try:
            assert app_b.run("systemctl stop koinonia-api").rc == 0
            traffic.wait()
        finally:
            app_b.run("systemctl start koinonia-api")
    summary = traffic.summary()
    assert summary["requests"] == 300
    assert summary["failed"] == 0, summary["first_failures"]
    assert set(summary["hosts"]) == {"mol-app-a", "mol-app-b"}  # b served before it stopped


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


def test_remove_and_add_through_upstreams_survive_a_rollout(host):
    site = "/etc/nginx/conf.d/koinonia-lb.conf"
    original = host.file(site).sha256sum
    app_b = address("mol-app-b")
    try:
        remove = playbook("playbooks/upstreams.yml", "-e", "backend=app-b", "-e", "change=remove")
        assert remove.returncode == 0, remove.stdout[-2000:]
        assert hosts_seen(host) == {"mol-app-a"}
        # The same container under a name the inventory does not have.
        add = playbook("playbooks/upstreams.yml", "-e", "backend=app-c", "-e", "change=add",
                       "-e", f"backend_address={app_b}")
        assert add.returncode == 0, add.stdout[-2000:]
        assert hosts_seen(host) == {"mol-app-a", "mol-app-b"}
        assert f"server {app_b}:3000 " in host.file(site).content_string
        # A full rollout renders the same site from the record: nothing to change.
        changed = host.file(site).sha256sum
        rollout = playbook("molecule/nginx_lb/converge.yml", "--limit", "mol-lb")
        assert rollout.returncode == 0, rollout.stdout[-2000:]
        assert host.file(site).sha256sum == changed
        # An added backend that clashes with one in the upstream (same address:port) is refused.
        clash = playbook("playbooks/upstreams.yml", "-e", "backend=app-d", "-e", "change=add",
                         "-e", "backend_address=mol-app-a")
        assert clash.returncode != 0
        assert "duplicate server mol-app-a:3000" in flat(clash.stdout + clash.stderr), clash.stdout[-2000:]
        assert host.file(site).sha256sum == changed
    finally:
        playbook("playbooks/upstreams.yml", "-e", "backend=app-c", "-e", "change=remove")
        back = playbook("playbooks/upstreams.yml", "-e", "backend=app-b", "-e", "change=add")
    assert back.returncode == 0, back.stdout[-2000:]
    # The inventory backend is back in its place: the site is the one before the test.
    assert host.file(site).sha256sum == original
    assert hosts_seen(host) == {"mol-app-a", "mol-app-b"}
