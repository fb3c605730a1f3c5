"""Rolling deploy and rollback through playbooks/deploy.yml and rollback.yml while a bounded
keep-alive load with writes (tests/loadgen.py) runs through the LB: zero failed requests and no
lost write. A keep-alive connection that a reload closes under a request is counted: a read is
retried once, as HTTP/1.1 clients do, a write fails as `keepalive_reset` (never retried, never
applied). A release that fails /health stops the rollout at the first backend, left drained."""
import json
import re
import shlex

import fleet
import molecule_helpers
from fleet import (BACKENDS, BASE, CURRENT_VERSION, MIX_WITH_WRITES, backend_version, build_release, load, playbook,
                   report, sql)

NEXT = "9.1.0"
# Each backend is drained and put back: two reloads per backend on the LB. At most every client
# connection of the load can meet each reload.
RELOADS = 2 * len(BACKENDS)
CLIENTS = sum(int(route.split()[3]) for route in MIX_WITH_WRITES)
BROKEN = "9.2.0-broken"


def lb_config():
    return fleet.host("at-lb1").file("/etc/nginx/conf.d/koinonia-lb.conf").content_string


def assert_only_reload_resets(summary):
    """No failed request but writes sent on a keep-alive connection at the instant a reload closed
    it (not retried: a POST never is), none lost, and no more resets than reloads could cause."""
    failures = summary["failures_by_kind"]
    assert set(failures) <= {"keepalive_reset"}, summary["first_failures"]
    assert summary["routes"]["write"]["failed"] == failures.get("keepalive_reset", 0)
    assert summary["keepalive_resets"] + failures.get("keepalive_reset", 0) <= RELOADS * CLIENTS
    assert summary["lost_writes"] == []


def assert_clean_output(run):
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    for secret in fleet.secrets():
        assert secret not in run.stdout and secret not in run.stderr


def test_rolling_deploy_under_load_fails_no_request():
    build_release(NEXT)
    with load(MIX_WITH_WRITES) as traffic:
        run = playbook("deploy.yml", "-e", f"fleet_app_version={NEXT}", "--diff")
    assert_clean_output(run)
    summary = report("rolling deploy", traffic)
    assert summary["requests"] > 500
    assert_only_reload_resets(summary)
    assert set(summary["routes"]["health"]["versions"]) == {CURRENT_VERSION, NEXT}  # both served while it rolled
    for name in BACKENDS:
        assert backend_version(name) == NEXT
        links = fleet.host(name).check_output(f"readlink {BASE}/current {BASE}/previous").split()
        assert links == [f"{BASE}/releases/{NEXT}", f"{BASE}/releases/{CURRENT_VERSION}"]
    assert " down;" not in lb_config()
    # The deploy's drains and put-backs are not an operator's: nothing recorded over the inventory.
    record = fleet.host("at-lb1").run("cat /etc/nginx/koinonia-upstream-state.json")
    assert record.rc != 0 or "states" not in json.loads(record.stdout), record.stdout
    assert sql(f"SELECT count(*) FROM deploys WHERE release = '{NEXT}'") == [["1"]]  # migrated once


def test_a_dry_run_of_site_keeps_the_deployed_release_changes_nothing_and_prints_no_secret():
    """As the deployment guide says, `playbooks/site.yml --check --diff` on the fleet reports no change
    (molecule's own check step would not count them), on every host of every phase. The inventory
    still names the converged release, the fleet runs the deployed one: site.yml must keep it (a
    release switch, a reload or a restart would count as a change). Molecule's idempotence step ran
    the migration again for real: it changed nothing either."""
    run = playbook("site.yml", "--check", "--diff")
    assert_clean_output(run)
    recap = run.stdout[run.stdout.rindex("PLAY RECAP"):]
    changed = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", recap, re.M))
    assert len(changed) == 8 and set(changed.values()) == {"0"}, recap
    assert f"keeps release {NEXT}" in run.stdout
    for name in BACKENDS:
        assert backend_version(name) == NEXT


def test_rollback_under_load_fails_no_request():
    with load(MIX_WITH_WRITES) as traffic:
        run = playbook("rollback.yml")
    assert_clean_output(run)
    summary = report("rollback", traffic)
    assert summary["requests"] > 500
    assert_only_reload_resets(summary)
    for name in BACKENDS:
        assert backend_version(name) == CURRENT_VERSION
    assert " down;" not in lb_config()


def test_release_failing_health_stops_the_rollout_at_the_first_backend():
    build_release(BROKEN, broken=True)
    with load(MIX_WITH_WRITES) as traffic:
        run = playbook("deploy.yml", "-e", f"fleet_app_version={BROKEN}", "-e", "backend_node_health_timeout=6")
    assert run.returncode != 0
    summary = report("deploy of a release that crashes at boot", traffic)
    assert_only_reload_resets(summary)  # the others served throughout
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


def test_pruning_keeps_the_most_recently_deployed_releases():
    """Every artifact is stamped alike, so only the deploy order can say which releases are old.
    By now the first backend went 1.3.0 -> 9.1.0 -> 1.3.0 -> 9.2.0-broken -> 1.3.0, the others
    1.3.0 -> 9.1.0 -> 1.3.0 with 9.2.0-broken shipped but never live. Keeping two: the first keeps
    1.3.0 and 9.2.0-broken, the others 1.3.0 and 9.1.0."""
    run = playbook("deploy.yml", "-e", f"fleet_app_version={CURRENT_VERSION}", "-e", "backend_node_releases_keep=2")
    assert_clean_output(run)
    first, *others = BACKENDS

    def releases(name):
        return sorted(fleet.host(name).check_output(f"ls {BASE}/releases").split())

    assert releases(first) == sorted([CURRENT_VERSION, BROKEN])
    for name in others:
        assert releases(name) == sorted([CURRENT_VERSION, NEXT])
        assert backend_version(name) == CURRENT_VERSION


def test_a_release_is_migrated_once_whichever_backend_holds_its_record(tmp_path):
    """Backends that joined later (phases 3 and 4) hold no migration record: the release counts as
    migrated when any backend of the play holds one, not only the one run_once happens to pick
    (a group_by group lists hosts in the order their results came back)."""
    record = f"{BASE}/shared/migrations/{CURRENT_VERSION}"
    first, *_, last = BACKENDS
    text = fleet.host(first).check_output(f"cat {record}")  # phase 1 migrated on the first backend
    check = tmp_path / "migrate.yml"
    check.write_text(f"""---
- name: Every host's inputs
  ansible.builtin.import_playbook: {fleet.ROOT}/playbooks/preflight.yml
- name: Migrate the live release, as deploy.yml does
  hosts: backends
  gather_facts: false
  tasks:
    - name: Ship the release and migrate once
      ansible.builtin.include_role:
        name: koinonia.fleet.backend_node
        tasks_from: migrate
""")
    try:
        for name in BACKENDS:
            fleet.host(name).check_output(f"rm -f {record}")
        fleet.host(last).check_output(f"printf '%s\\n' {shlex.quote(text)} > {record}")
        run = molecule_helpers.playbook(str(check), "--check", "--diff")
        assert run.returncode == 0, run.stdout[-4000:]
        recap = run.stdout[run.stdout.rindex("PLAY RECAP"):]
        changed = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", recap, re.M))
        assert [changed.get(name) for name in BACKENDS] == ["0"] * len(BACKENDS), recap
    finally:
        fleet.host(first).check_output(f"printf '%s\\n' {shlex.quote(text)} > {record}")
