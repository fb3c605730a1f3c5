"""Rolling deploy and rollback through playbooks/deploy.yml and rollback.yml while a bounded
keep-alive load (tests/loadgen.py) runs through the LB: zero failed requests (an idle keep-alive
connection that NGINX closes at a reload is retried once, as HTTP/1.1 clients do, and counted);
a release that fails /health stops the rollout at the first backend and leaves it drained."""
import fleet
from fleet import BACKENDS, BASE, CURRENT_VERSION, backend_version, build_release, load, playbook, report, sql

NEXT = "9.1.0"
BROKEN = "9.2.0-broken"


def lb_config():
    return fleet.host("at-lb1").file("/etc/nginx/conf.d/koinonia-lb.conf").content_string


def assert_clean_output(run):
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    for secret in fleet.secrets():
        assert secret not in run.stdout and secret not in run.stderr


def test_rolling_deploy_under_load_fails_no_request():
    build_release(NEXT)
    with load() as traffic:
        run = playbook("deploy.yml", "-e", f"fleet_app_version={NEXT}", "--diff")
    assert_clean_output(run)
    summary = report("rolling deploy", traffic)
    assert summary["requests"] > 500
    assert summary["failed"] == 0, summary["first_failures"]
    assert set(summary["routes"]["health"]["versions"]) == {CURRENT_VERSION, NEXT}  # both served while it rolled
    for name in BACKENDS:
        assert backend_version(name) == NEXT
        links = fleet.host(name).check_output(f"readlink {BASE}/current {BASE}/previous").split()
        assert links == [f"{BASE}/releases/{NEXT}", f"{BASE}/releases/{CURRENT_VERSION}"]
    assert " down;" not in lb_config()
    assert sql(f"SELECT count(*) FROM deploys WHERE release = '{NEXT}'") == [["1"]]  # migrated once


def test_rollback_under_load_fails_no_request():
    with load() as traffic:
        run = playbook("rollback.yml")
    assert_clean_output(run)
    summary = report("rollback", traffic)
    assert summary["requests"] > 500
    assert summary["failed"] == 0, summary["first_failures"]
    for name in BACKENDS:
        assert backend_version(name) == CURRENT_VERSION
    assert " down;" not in lb_config()


def test_release_failing_health_stops_the_rollout_at_the_first_backend():
    build_release(BROKEN, broken=True)
    with load() as traffic:
        run = playbook("deploy.yml", "-e", f"fleet_app_version={BROKEN}", "-e", "backend_node_health_timeout=20")
    assert run.returncode != 0
    summary = report("deploy of a release that crashes at boot", traffic)
    assert summary["failed"] == 0, summary["first_failures"]  # the others served throughout
    first, *others = BACKENDS
    assert f"down; # {first} drain" in lb_config()
    assert fleet.host(first).check_output(f"readlink {BASE}/current") == f"{BASE}/releases/{BROKEN}"
    for name in others:
        assert backend_version(name) == CURRENT_VERSION
        assert fleet.host(name).check_output(f"readlink {BASE}/current") == f"{BASE}/releases/{CURRENT_VERSION}"
        assert fleet.host(name).file(f"{BASE}/releases/{BROKEN}/RELEASE").exists  # shipped, never activated


def test_rollback_after_a_failed_rollout_puts_the_first_backend_back():
    run = playbook("rollback.yml", "-e", f"rollback_version={CURRENT_VERSION}")
    assert_clean_output(run)
    for name in BACKENDS:
        assert backend_version(name) == CURRENT_VERSION
    assert " down;" not in lb_config()
    assert fleet.hosts_seen() == set(BACKENDS)
