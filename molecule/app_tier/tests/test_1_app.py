"""The app on three backends under PM2 cluster mode, through the LB, PgBouncer and Redis."""
import csv
import io
import json
import time

import fleet
from fleet import BACKENDS, BASE, CURRENT_VERSION, get, sql
from molecule_helpers import target

testinfra_hosts = [target(name) for name in BACKENDS]


def test_pm2_runs_one_worker_per_vcpu_in_cluster_mode(host):
    apps = json.loads(host.check_output("koinonia-api-pm2 jlist"))
    workers = [a for a in apps if a["name"] == "koinonia-api"]
    vcpus = int(host.check_output("nproc"))
    assert len(workers) == vcpus
    assert {w["pm2_env"]["exec_mode"] for w in workers} == {"cluster_mode"}
    assert {w["pm2_env"]["status"] for w in workers} == {"online"}


def test_pm2_runs_unprivileged_under_systemd(host):
    assert host.service("koinonia-api").is_running
    assert host.service("koinonia-api").is_enabled
    pid = host.check_output("systemctl show -p MainPID --value koinonia-api")
    assert host.check_output(f"ps -o user= -p {pid}") == "koinonia"
    assert "PM2" in host.check_output(f"ps -o args= -p {pid}")


def test_release_layout(host):
    current = host.file(f"{BASE}/current")
    assert current.is_symlink
    assert current.linked_to == f"{BASE}/releases/{CURRENT_VERSION}"
    assert host.file(f"{current.linked_to}/node_modules/express").is_directory
    assert host.file(f"{current.linked_to}/RELEASE").content_string.strip() == CURRENT_VERSION


def test_env_file_private_with_pgbouncer_direct_and_replica_urls(host):
    env = host.file(f"{BASE}/shared/env")
    assert (env.user, env.group, env.mode) == ("koinonia", "koinonia", 0o600)
    lines = dict(line.split("=", 1) for line in env.content_string.splitlines() if "=" in line and not line.startswith("#"))
    assert "@172.30.58.31:6432/koinonia?" in lines["DATABASE_URL"]
    assert "connection_limit=5" in lines["DATABASE_URL"] and "pgbouncer=true" in lines["DATABASE_URL"]
    assert "@172.30.58.31:6432/koinonia_ro?" in lines["DATABASE_REPLICA_URL"]
    assert "@172.30.58.31:5432/koinonia" in lines["DIRECT_DATABASE_URL"]
    assert "pgbouncer" not in lines["DIRECT_DATABASE_URL"]
    assert lines["REDIS_URL"].endswith("@172.30.58.41:6379/0")


def test_app_logs_are_json_lines_under_shared_logs(host):
    log = host.file(f"{BASE}/shared/logs/koinonia-api.out.log")
    assert log.user == "koinonia"
    events = [json.loads(line) for line in log.content_string.splitlines() if line.strip()]
    assert any(e["event"] == "listening" for e in events)
    host.run_expect([0], "logrotate --debug /etc/logrotate.d/koinonia-api")


def test_pm2_wrapper_works_while_the_unit_runs(host):
    assert host.run("koinonia-api-pm2 ls").rc == 0


def test_pm2_wrapper_refuses_to_start_a_stray_daemon():
    """Operators use koinonia-api-pm2; with the unit stopped, plain pm2 would start a daemon of its
    own outside systemd. The wrapper refuses, and no PM2 daemon appears."""
    app = fleet.host("at-app3")
    app.run_expect([0], "systemctl stop koinonia-api")
    try:
        out = app.run("koinonia-api-pm2 ls")
        assert out.rc == 3 and "not running under systemd" in out.stderr
        assert app.run("pgrep -u koinonia -f 'PM2 v'").rc == 1
    finally:
        app.run_expect([0], "systemctl start koinonia-api")
        assert fleet.wait_for(lambda: app.run(f"curl -fsS -m 2 http://{fleet.ADDRESS['at-app3']}:3000/health").rc == 0, 60)
        # Back in the LB's rotation (its passive check may have counted the stop) before the next test.
        assert fleet.wait_for(lambda: "at-app3" in fleet.hosts_seen(count=10), 30)


def test_answers_through_the_lb_from_every_backend():
    assert fleet.hosts_seen() == set(BACKENDS)


def test_backends_reach_postgresql_through_pgbouncer():
    for _ in range(9):
        status, body = get("/health/detailed")
        assert status == 200, body
        assert body["checks"]["redis"]["reply"] == "PONG"
        time.sleep(0.05)  # under the LB's API rate limit
    # Every PgBouncer process (pgbouncer-console asks each): a backend's connections spread over them.
    clients = csv.DictReader(io.StringIO(fleet.host("at-db1").check_output("pgbouncer-console 'SHOW CLIENTS'")))
    addresses = {row["addr"] for row in clients if row["database"] == "koinonia"}
    assert {"172.30.58.21", "172.30.58.22", "172.30.58.23"} <= addresses


def test_migrations_ran_once_through_the_direct_url():
    assert sql(f"SELECT count(*) FROM deploys WHERE release = '{CURRENT_VERSION}'") == [["1"]]
    assert [r[0] for r in sql("SELECT name FROM schema_migrations ORDER BY name")] == [
        "0001_messages", "0002_messages_created_at"]
