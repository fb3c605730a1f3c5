"""Rotating the database and Redis passwords under a load with writes, as
docs/operational-runbook.md says, with its commands (here the "vault" is .cache/secrets and
fleet_db_login an extra variable): no request fails, no acknowledged write is lost, the old
passwords are refused at the end, and Redis never restarts.

Two runs: phase 1 gives the twin login a new password and moves the backends to it while Redis
accepts a new password and the previous one; then phases 1 and 6 move the backends back to the
app's role and Redis to a third password, both hostile but printable (@ : / " $ % # ? ' \\ ` space
and the rest), dropping the first. So both directions are drilled, and every holder of the
passwords takes hostile ones: PostgreSQL, PgBouncer and its read alias (phase 6's gate logs in
through it), Redis, the app's env file and the health check.
Runs last: the fleet keeps the hostile passwords (given as extra variables, not in .cache)."""
import csv
import io
import json
import secrets
import shlex
import string

import fleet
from fleet import BACKENDS, CHECK, MIX_WITH_WRITES, events, load, log_length, playbook, report

SECRETS = fleet.ROOT / ".cache" / "secrets"
HOSTILE = "p@ss:w/rd \"$%#?'\\ x`~{}[]&*;=+,<>|!^ end"


def read(name):
    return (SECRETS / name).read_text().split()[0]


def write(name, value):
    (SECRETS / name).write_text(value + "\n")


def fresh():
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def redis_accepts(password):
    out = fleet.host("at-cache1").run(f"REDISCLI_AUTH={shlex.quote(password)} redis-cli --no-auth-warning "
                                      "-h 127.0.0.1 ping")
    return out.stdout.strip() == "PONG"


def pgbouncer_accepts(user, password):
    """A login through PgBouncer (from the primary's loopback, one of its client addresses)."""
    out = fleet.host("at-db1").run(f"PGPASSWORD={shlex.quote(password)} psql -XAt -h 127.0.0.1 -p 6432 "
                                   f"-U {user} -d koinonia -c 'SELECT current_user'")
    return out.rc == 0 and out.stdout.strip() == "koinonia"  # the twin acts as the app's role


def test_rotating_the_database_and_redis_passwords_fails_no_request():
    old = {name: read(name) for name in ("db_password", "db_twin_password", "redis_password")}
    new = {name: fresh() for name in ("db_twin_password", "redis_password")}
    redis_pid = fleet.host("at-cache1").check_output("systemctl show -p MainPID --value redis-server")
    with load(MIX_WITH_WRITES) as traffic:
        write("db_twin_password", new["db_twin_password"])
        write("redis_password", new["redis_password"])
        first = playbook("phase_1_pgbouncer.yml", "-e", json.dumps(
            {"fleet_db_login": "koinonia_twin", "fleet_redis_password_previous": old["redis_password"]}))
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
        assert redis_accepts(old["redis_password"]) and redis_accepts(new["redis_password"])
        second = playbook("phase_1_pgbouncer.yml", str(fleet.ROOT / "playbooks/phase_6_read_replica.yml"), "-e",
                          json.dumps({"fleet_db_password": HOSTILE, "fleet_redis_password": HOSTILE,
                                      "fleet_redis_password_previous": new["redis_password"]}))
        assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    summary = report("password rotation (database twice, Redis twice)", traffic)
    assert summary["requests"] > 300
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["lost_writes"] == []
    for secret in [*old.values(), *new.values(), HOSTILE]:
        for run in (first, second):
            assert secret not in run.stdout + run.stderr
    assert not redis_accepts(old["redis_password"]) and redis_accepts(HOSTILE)
    assert fleet.host("at-cache1").check_output("systemctl show -p MainPID --value redis-server") == redis_pid
    assert not pgbouncer_accepts("koinonia", old["db_password"])
    assert pgbouncer_accepts("koinonia", HOSTILE)
    assert pgbouncer_accepts("koinonia_twin", new["db_twin_password"])
    # The backends are back on the app's role: PgBouncer has no client of the twin left (its idle
    # server connections close by themselves, server_idle_timeout).
    clients = fleet.host("at-db1").check_output("pgbouncer-console 'SHOW CLIENTS'")  # every PgBouncer process
    users = {row["user"] for row in csv.DictReader(io.StringIO(clients)) if row["type"] == "C"}
    # Besides the app's role: this admin console session (postgres) and the pgbouncer exporter's (prometheus).
    assert users - {"postgres", "prometheus"} == {"koinonia"}, users


def test_the_app_and_its_health_check_work_with_the_hostile_passwords():
    for name in BACKENDS:
        app = fleet.host(name)
        detailed = json.loads(app.check_output(f"curl -fsS -m 5 http://{fleet.ADDRESS[name]}:3000/health/detailed"))
        assert detailed["checks"]["database"]["ok"] and detailed["checks"]["redis"]["ok"], (name, detailed)
        start = log_length(app)
        app.run(CHECK)
        ok = [e for e in events(app, start) if e["event"] == "health_ok"]
        assert ok and ok[-1]["database"] and ok[-1]["redis"], events(app, start)
    assert fleet.get("/api/messages")[0] == 200
    assert fleet.get("/api/online")[0] == 200
