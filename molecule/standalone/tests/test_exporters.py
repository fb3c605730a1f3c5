"""The exporters (koinonia.fleet.prometheus_exporters) on each host for what runs there: each listens
on the host's private address only; the databases are reached with no password (peer authentication,
pg_monitor, PgBouncer SHOW only); the Redis password is in a private file, not on a command line;
bad settings are refused before anything changes. Prometheus scraping them all: test_prometheus."""
import json

import pytest

from molecule_helpers import flat, playbook

# Each host, its private address (molecule.yml) and the exporters fleet_exporters gives it.
HOSTS = {
    "mol-postgresql": ("172.30.59.31", {"node": 9100, "postgres": 9187}),
    "mol-pgbouncer": ("172.30.59.32", {"node": 9100, "postgres": 9187, "pgbouncer": 9127}),
    "mol-redis": ("172.30.59.41", {"node": 9100, "redis": 9121}),
    "mol-prometheus": ("172.30.59.50", {"node": 9100}),
}
testinfra_hosts = list(HOSTS)
UP = {"node": "node_exporter_build_info", "postgres": "pg_up 1", "pgbouncer": "pgbouncer_up 1", "redis": "redis_up 1"}


def name(host):
    return host.backend.get_hostname()


def metrics(host, port):
    address = HOSTS[name(host)][0]
    return host.check_output(f"curl -fsS http://{address}:{port}/metrics")


def test_each_exporter_runs_and_listens_on_the_private_address_only(host):
    address, exporters = HOSTS[name(host)]
    listening = set(host.socket.get_listening_sockets())
    for exporter, port in exporters.items():
        unit = host.service(f"prometheus-{exporter}-exporter")
        assert unit.is_running and unit.is_enabled, exporter
        ours = {sock for sock in listening if sock.rsplit(":", 1)[-1] == str(port)}
        assert ours == {f"tcp://{address}:{port}"}, (exporter, listening)


def test_each_exporter_reaches_what_it_watches(host):
    for exporter, port in HOSTS[name(host)][1].items():
        assert UP[exporter] in metrics(host, port), exporter


@pytest.mark.parametrize("exporter", ["postgres", "pgbouncer"])
def test_the_databases_are_reached_as_prometheus_with_no_password(host, exporter):
    if exporter not in HOSTS[name(host)][1]:
        pytest.skip(f"no {exporter} exporter on {name(host)}")
    pid = host.check_output(f"systemctl show -p MainPID --value prometheus-{exporter}-exporter")
    assert host.check_output(f"ps -o user:20=,group:20= -p {pid}").split() == ["prometheus", "prometheus"]
    # Not in postgres's group either (it could read PgBouncer's userlist.txt).
    groups = host.check_output(f"awk '/^Groups:/ {{$1 = \"\"; print}}' /proc/{pid}/status").split()
    assert host.check_output("getent group postgres | cut -d: -f3") not in groups, groups
    settings = [line for line in host.file(f"/etc/default/prometheus-{exporter}-exporter").content_string.splitlines()
                if not line.startswith("#")]
    assert settings and not [line for line in settings if "password" in line.lower() or "@" in line], settings


def test_the_postgres_role_is_a_pg_monitor_member_and_no_more(host):
    if "postgres" not in HOSTS[name(host)][1]:
        pytest.skip("no PostgreSQL here")
    out = host.check_output(
        "runuser -u postgres -- psql -XAtc \"SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role('prometheus',"
        " 'pg_monitor', 'member'), rolpassword IS NULL FROM pg_authid WHERE rolname = 'prometheus'\"")
    assert out == "f|f|f|t|t"


def test_the_pgbouncer_exporter_may_show_but_not_administer(host):
    if "pgbouncer" not in HOSTS[name(host)][1]:
        pytest.skip("no PgBouncer here")
    psql = "runuser -u prometheus -- psql -XAt -h /var/run/postgresql -p 6432 -U prometheus pgbouncer -c"
    assert host.run(f"{psql} 'SHOW POOLS'").rc == 0
    refused = host.run(f"{psql} 'RELOAD'")
    assert refused.rc != 0 and "admin access needed" in refused.stderr, refused.stderr
    # Not over TCP, with or without a password.
    tcp = host.run("PGPASSWORD=x psql -XAt -h 127.0.0.1 -p 6432 -U prometheus pgbouncer -c 'SHOW POOLS'")
    assert tcp.rc != 0


def test_the_redis_password_is_in_a_private_file_not_on_a_command_line(host):
    if "redis" not in HOSTS[name(host)][1]:
        pytest.skip("no Redis here")
    secret = host.file("/etc/prometheus/redis-exporter-passwords.json")
    assert (secret.user, secret.group, secret.mode) == ("root", "prometheus", 0o640)
    assert json.loads(secret.content_string) == {"redis://127.0.0.1:6379": "molecule-redis-password"}
    pid = host.check_output("systemctl show -p MainPID --value prometheus-redis-exporter")
    assert "molecule-redis-password" not in host.file(f"/proc/{pid}/cmdline").content_string
    assert "molecule-redis-password" not in host.check_output("journalctl -u prometheus-redis-exporter --no-pager")


def test_bad_settings_are_refused_before_anything_changes(host):
    if name(host) != "mol-redis":
        pytest.skip("once, on one host")
    files = "sha256sum /etc/default/prometheus-*-exporter /etc/prometheus/redis-exporter-passwords.json"
    before = host.check_output(files)
    run = playbook("molecule/standalone/converge.yml", "--limit", "mol-redis", "-e", json.dumps({
        "prometheus_exporters_listen_address": "0.0.0.0",
        "prometheus_exporters_enabled": [{"name": "node", "port": 9100}, {"name": "redis", "port": 9100}],
        "prometheus_exporters_redis_address": "127.0.0.1:6379"}))
    assert run.returncode != 0
    out = flat(run.stdout + run.stderr)
    for message in ("prometheus_exporters_listen_address (0.0.0.0) must be one address",
                    "prometheus_exporters_enabled (node:9100, redis:9100) must name each exporter once, each on a port",
                    "prometheus_exporters_redis_address (127.0.0.1:6379) must be a redis://"):
        assert message in out, out[-3000:]
    assert "molecule-redis-password" not in out
    assert host.check_output(files) == before
