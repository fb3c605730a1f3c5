"""The backend on one server: a release under systemd, its env file private, PostgreSQL via PgBouncer and Redis reached."""
import json


def get_json(host, path, expect=200):
    out = host.check_output(f"curl -s -m 10 -w '\\n%{{http_code}}' http://127.0.0.1:3000{path}")
    body, status = out.rsplit("\n", 1)
    assert int(status) == expect, body
    return json.loads(body)


def test_unit_running(host):
    svc = host.service("koinonia-api")
    assert svc.is_running
    assert svc.is_enabled


def test_runs_unprivileged(host):
    pid = host.check_output("systemctl show -p MainPID --value koinonia-api")
    assert host.check_output(f"ps -o user= -p {pid}") == "koinonia"


def test_current_points_at_a_release(host):
    current = host.file("/srv/koinonia-api/current")
    assert current.is_symlink
    assert current.linked_to.startswith("/srv/koinonia-api/releases/")
    assert host.file(current.linked_to + "/node_modules/express").is_directory


def test_env_file_private(host):
    env = host.file("/srv/koinonia-api/shared/env")
    assert env.user == "koinonia"
    assert env.mode == 0o600
    content = env.content_string
    assert "DATABASE_URL=postgresql://koinonia:molecule-app-password@127.0.0.1:6432/koinonia?" in content
    assert "connection_limit=5" in content
    assert "pgbouncer=true" in content


def test_detailed_health_through_pgbouncer_and_redis(host):
    reply = get_json(host, "/health/detailed")
    assert reply["status"] == "ok"
    # PgBouncer appends the client address to application_name.
    assert "127.0.0.1:" in reply["checks"]["database"]["application_name"]
    assert reply["checks"]["redis"]["reply"] == "PONG"


def test_write_then_read(host):
    out = host.check_output(
        "curl -s -m 10 -H 'Content-Type: application/json' -d '{\"body\":\"molecule hello\"}' http://127.0.0.1:3000/api/messages"
    )
    written = json.loads(out)
    assert written["body"] == "molecule hello"
    latest = get_json(host, "/api/messages?limit=5")["messages"]
    assert written["id"] in [row["id"] for row in latest]


def test_app_seen_by_pgbouncer(host):
    clients = host.check_output(
        "su postgres -c \"psql -h /var/run/postgresql -p 6432 -d pgbouncer -Atc 'show clients'\""
    )
    assert "|koinonia|" in clients
