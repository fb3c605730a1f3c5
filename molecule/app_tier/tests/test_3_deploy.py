"""Rolling deploy and rollback through playbooks/deploy.yml and rollback.yml while a bounded
load runs through the LB: zero failed requests; a release that fails /health stops the rollout
at the first backend and leaves it drained."""
import fleet
from fleet import BACKENDS, BASE, CURRENT_VERSION, Load, backend_version, build_release, playbook, sql

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
    with Load() as load:
        run = playbook("deploy.yml", "-e", f"fleet_app_version={NEXT}", "--diff")
    assert_clean_output(run)
    assert load.ok > 200
    assert load.failed == [], load.failed[:10]
    assert set(load.versions) == {CURRENT_VERSION, NEXT}  # both served while it rolled
    for name in BACKENDS:
        assert backend_version(name) == NEXT
        links = fleet.host(name).check_output(f"readlink {BASE}/current {BASE}/previous").split()
        assert links == [f"{BASE}/releases/{NEXT}", f"{BASE}/releases/{CURRENT_VERSION}"]
    assert " down;" not in lb_config()
    assert sql(f"SELECT count(*) FROM deploys WHERE release = '{NEXT}'") == [["1"]]  # migrated once


def test_rollback_under_load_fails_no_request():
    with Load() as load:
        run = playbook("rollback.yml")
    assert_clean_output(run)
    assert load.ok > 200
    assert load.failed == [], load.failed[:10]
    for name in BACKENDS:
        assert backend_version(name) == CURRENT_VERSION
    assert " down;" not in lb_config()


def test_release_failing_health_stops_the_rollout_at_the_first_backend():
    build_release(BROKEN, broken=True)
    with Load() as load:
        run = playbook("deploy.yml", "-e", f"fleet_app_version={BROKEN}", "-e", "backend_node_health_timeout=20")
    assert run.returncode != 0
    assert load.failed == [], load.failed[:10]  # the others served throughout
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
