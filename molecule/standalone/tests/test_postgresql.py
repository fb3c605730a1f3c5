"""PostgreSQL primary: the server runs, the application logs in with its password, others are refused;
a settings change reloads, and restarts only for the settings that need it."""
from molecule_helpers import flat, node, playbook

HOST = "mol-postgresql"
testinfra_hosts = [HOST]

PSQL = "PGPASSWORD={pw} PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -U koinonia -d koinonia -Atc {sql!r}"


def test_service_running(host):
    svc = host.service("postgresql@15-main")
    assert svc.is_running
    assert svc.is_enabled


def test_listens_on_loopback_only(host):
    assert host.socket("tcp://127.0.0.1:5432").is_listening
    assert not host.socket("tcp://0.0.0.0:5432").is_listening


def test_app_logs_in_with_password(host):
    out = host.check_output(PSQL.format(pw="molecule-app-password", sql="select current_user"))
    assert out == "koinonia"


def test_wrong_password_refused(host):
    cmd = host.run(PSQL.format(pw="not-the-password", sql="select 1"))
    assert cmd.rc != 0
    assert "password authentication failed" in cmd.stderr


def test_password_stored_as_scram(host):
    out = host.check_output(
        "su postgres -c \"psql -Atc \\\"select rolpassword from pg_authid where rolname = 'koinonia'\\\"\""
    )
    assert out.startswith("SCRAM-SHA-256$")


def test_max_connections_from_settings(host):
    out = host.check_output(PSQL.format(pw="molecule-app-password", sql="show max_connections"))
    assert out == "120"


def started(host):
    return host.check_output("su postgres -c \"psql -Atc 'select pg_postmaster_start_time()'\"")


def converge(*args):
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "--skip-tags", "exporters", *args)
    assert run.returncode == 0, run.stdout[-3000:]
    return flat(run.stdout)


def test_a_reloadable_setting_is_applied_without_a_restart():
    host = node("mol-postgresql")
    before = started(host)
    out = converge("-e", '{"postgresql_settings": {"work_mem": "8MB"}}')
    assert host.check_output(PSQL.format(pw="molecule-app-password", sql="show work_mem")) == "8MB"
    assert started(host) == before, out
    assert "PostgreSQL restarted:" not in out  # the message (the handler is listed, skipped)


def test_a_setting_that_needs_a_restart_restarts_and_says_which():
    host = node("mol-postgresql")
    before = started(host)
    out = converge("-e", '{"postgresql_settings": {"work_mem": "8MB", "shared_buffers": "64MB"}}')
    assert host.check_output(PSQL.format(pw="molecule-app-password", sql="show shared_buffers")) == "64MB"
    assert started(host) != before
    assert "PostgreSQL restarted: shared_buffers only apply at a restart" in out
    converge()  # back to the scenario's settings (shared_buffers again: a restart)
    assert host.check_output(PSQL.format(pw="molecule-app-password", sql="show work_mem")) == "4MB"
