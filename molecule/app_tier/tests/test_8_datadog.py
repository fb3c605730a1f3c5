"""Phase 7's Datadog agent (koinonia.fleet.datadog_agent) on the migrated fleet, with everything that
can run without Datadog: Datadog's key server, APT repository and API cannot be reached from the test
machines. What runs for real: the repository's keyring built from the keys (one pinned by fingerprint,
the CURRENT one fetched), served by the stand-in on at-cache1 (molecule/_shared/files/apt-standin.sh)
with a signed repository that APT reads through that keyring; the agent's user, datadog.yaml and each
check's conf.yaml, parsed; every check instance's endpoint answering with the credentials written in
its file; the log files readable by the agent's user; and Datadog's tracer (dd-trace) loaded by the
app on every backend, shown by its own startup log.
What cannot run here, and is not faked: installing and starting the agent (datadog_agent_install is
false in this scenario; the stand-in repository holds no package), and applying the monitors
(Datadog's API; the monitors themselves are unit-tested, tests/unit/plugins/filter)."""
import json
import os
import shlex
import subprocess

import pytest
import yaml

import fleet

HOSTS = ["at-lb1", "at-app1", "at-app2", "at-app3", "at-db1", "at-db2", "at-cache1", "at-mon1"]
# Each host's checks, from its groups (inventories/local/group_vars/all/datadog.yml).
CHECKS = {
    "at-lb1": {"nginx"},
    **{name: {"http_check", "openmetrics", "nodejs"} for name in fleet.BACKENDS},
    "at-db1": {"postgres", "pgbouncer"},
    "at-db2": {"postgres"},
    "at-cache1": {"redisdb"},
    "at-mon1": set(),
}
CONF = "/etc/datadog-agent"
KEYRING = "/etc/apt/keyrings/koinonia-datadog.gpg"
SOURCE = "/etc/apt/sources.list.d/datadog.list"


def standin_fingerprints():
    path = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] + "/apt-standin.json"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def keyring_fingerprints(name, path=KEYRING):
    out = fleet.host(name).check_output(
        f"gpg --batch --with-colons --import-options show-only --import {path} 2>/dev/null")
    lines = out.splitlines()
    return {line.split(":")[9] for i, line in enumerate(lines)
            if line.startswith("fpr:") and i > 0 and lines[i - 1].startswith("pub:")}


def read_yaml(name, path):
    return yaml.safe_load(fleet.host(name).check_output(f"cat {path}"))


def check_files(name):
    out = fleet.host(name).check_output(f"find {CONF}/conf.d -name conf.yaml -path '*.d/conf.yaml'")
    return {line.split("/")[-2][:-2]: line for line in out.splitlines()}


def as_agent(name, command):
    """Run a command as the agent's user (what the agent could read or reach)."""
    return fleet.host(name).run(f"setpriv --reuid=dd-agent --regid=dd-agent --init-groups sh -c {shlex.quote(command)}")


@pytest.mark.parametrize("name", HOSTS)
def test_the_keyring_holds_exactly_the_repository_keys(name):
    current, second = standin_fingerprints()
    keyring = fleet.host(name).file(KEYRING)
    assert (keyring.user, keyring.group, keyring.mode) == ("root", "root", 0o644)
    assert keyring_fingerprints(name) == {current, second}
    source = fleet.host(name).file(SOURCE).content_string
    assert f"deb [signed-by={KEYRING}] http://172.30.58.41:9000/datadog/apt/ stable 7" in source
    # Nothing of Datadog's in APT's global trust.
    assert fleet.host(name).run("ls /etc/apt/trusted.gpg.d/ | grep -i datadog").rc == 1


def test_apt_reads_the_signed_repository_through_that_keyring_and_refuses_it_without_the_signing_key():
    """apt-get update of the Datadog source alone: clean with the role's keyring; with a keyring that
    holds only the second (pinned) key the signature does not verify, so the check can fail."""
    app = fleet.host("at-app1")
    update = ("apt-get update -o Dir::Etc::sourcelist={list} -o Dir::Etc::sourceparts=- "
              "-o APT::Get::List-Cleanup=0 2>&1")
    good = app.check_output(update.format(list=SOURCE))
    assert "datadog/apt stable InRelease" in good and "W:" not in good and "E:" not in good, good
    _, second = standin_fingerprints()
    app.check_output(f"gpg --batch --no-default-keyring --keyring {KEYRING} --export {second} > /usr/share/keyrings/t8.gpg")
    app.check_output(f"sed 's#{KEYRING}#/usr/share/keyrings/t8.gpg#' {SOURCE} > /etc/apt/t8.list")
    try:
        bad = app.check_output(update.format(list="/etc/apt/t8.list"))
    finally:
        app.run("rm -f /usr/share/keyrings/t8.gpg /etc/apt/t8.list")
    assert "NO_PUBKEY" in bad, bad


def test_a_key_that_does_not_match_its_pin_leaves_the_keyring_as_it_was():
    app = fleet.host("at-app1")
    before = app.check_output(f"sha256sum {KEYRING}")
    wrong = "0" * 40
    keys = json.dumps({"dest": KEYRING, "keys": [
        {"url": "http://172.30.58.41:9000/datadog/keys/CURRENT.public"},
        {"url": "http://172.30.58.41:9000/datadog/keys/SECOND.public", "fingerprint": wrong}]})
    run = subprocess.run(
        ["ansible", "-i", os.path.dirname(fleet.molecule_helpers.INVENTORY), "at-app1", "-b",
         "-m", "koinonia.fleet.apt_keyring", "-a", keys],
        capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(fleet.ROOT / ".collections")))
    assert run.returncode != 0
    assert f"does not hold the pinned key {wrong}" in fleet.molecule_helpers.flat(run.stdout + run.stderr)
    assert app.check_output(f"sha256sum {KEYRING}") == before


@pytest.mark.parametrize("name", HOSTS)
def test_datadog_yaml_is_the_agents_to_read_and_says_what_the_inventory_says(name):
    conf = fleet.host(name).file(f"{CONF}/datadog.yaml")
    assert (conf.user, conf.group, conf.mode) == ("root", "dd-agent", 0o640)
    settings = read_yaml(name, f"{CONF}/datadog.yaml")
    assert settings["api_key"] == "0123456789abcdef0123456789abcdef"
    assert settings["site"] == "datadoghq.com" and settings["hostname"] == name and settings["env"] == "local"
    assert {"service:koinonia-api", f"version:{fleet.CURRENT_VERSION}"} <= set(settings["tags"])
    assert settings["apm_config"] == {"enabled": True, "receiver_port": 8126, "apm_non_local_traffic": False}
    assert settings["logs_enabled"] is True and settings["process_config"]["process_collection"]["enabled"] is True
    user = fleet.host(name).user("dd-agent")
    assert user.exists and user.shell == "/usr/sbin/nologin"


@pytest.mark.parametrize("name", HOSTS)
def test_each_host_has_the_checks_of_what_runs_on_it_readable_by_the_agent_only(name):
    files = check_files(name)
    assert set(files) == CHECKS[name]
    for path in files.values():
        conf = fleet.host(name).file(path)
        assert (conf.user, conf.group, conf.mode) == ("root", "dd-agent", 0o640), path
        assert "init_config" in read_yaml(name, path)


def instances(name, check):
    return read_yaml(name, f"{CONF}/conf.d/{check}.d/conf.yaml").get("instances", [])


def test_the_nginx_check_reads_stub_status():
    (instance,) = instances("at-lb1", "nginx")
    out = as_agent("at-lb1", f"curl -fsS {instance['nginx_status_url']}")
    assert out.rc == 0 and "Active connections" in out.stdout


@pytest.mark.parametrize("name", fleet.BACKENDS)
def test_the_backends_health_check_and_every_workers_metrics_answer(name):
    (health,) = instances(name, "http_check")
    assert as_agent(name, f"curl -fsS -o /dev/null -w '%{{http_code}}' {health['url']}").stdout == "200"
    metrics = instances(name, "openmetrics")
    assert len(metrics) == int(fleet.host(name).check_output("nproc"))
    for instance in metrics:
        assert instance["namespace"] == "koinonia"
        out = as_agent(name, f"curl -fsS {instance['openmetrics_endpoint']}")
        assert out.rc == 0 and "koinonia_queue_backlog_jobs" in out.stdout, instance


@pytest.mark.parametrize("name", ["at-db1", "at-db2"])
def test_the_postgres_check_logs_in_with_its_password_and_has_pg_monitor(name):
    (instance,) = instances(name, "postgres")
    out = as_agent(name, f"PGPASSWORD={shlex.quote(instance['password'])} psql -h {instance['host']} -p {instance['port']} "
                         f"-U {instance['username']} -d {instance['dbname']} -AtXc "
                         "\"SELECT pg_has_role('pg_monitor', 'member'), pg_is_in_recovery()\"")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == ("t|t" if name == "at-db2" else "t|f")
    # Through any address but 127.0.0.1 PostgreSQL refuses the login (pg_hba.conf), password or not.
    private = fleet.host(name).check_output("hostname -i").split()[0]
    other = as_agent(name, f"PGPASSWORD={shlex.quote(instance['password'])} psql -h {private} -U {instance['username']} "
                           f"-d {instance['dbname']} -AtXc 'SELECT 1'")
    assert other.rc != 0 and "pg_hba.conf" in other.stderr, other.stderr


def test_the_pgbouncer_check_reads_show_and_may_do_nothing_else():
    (instance,) = instances("at-db1", "pgbouncer")
    login = (f"PGPASSWORD={shlex.quote(instance['password'])} psql -h {instance['host']} -p {instance['port']} "
             f"-U {instance['username']} -AtX")
    pools = as_agent("at-db1", f"{login} -d pgbouncer -c 'SHOW POOLS'")
    assert pools.rc == 0 and "koinonia" in pools.stdout, pools.stderr
    assert as_agent("at-db1", f"{login} -d pgbouncer -c 'PAUSE'").rc != 0  # stats, not admin
    assert as_agent("at-db1", f"{login} -d koinonia -c 'SELECT 1'").rc != 0  # no database through PgBouncer


def test_the_redis_check_logs_in_with_its_password():
    (instance,) = instances("at-cache1", "redisdb")
    out = as_agent("at-cache1", f"REDISCLI_AUTH={shlex.quote(instance['password'])} redis-cli -h {instance['host']} "
                                f"-p {instance['port']} PING")
    assert out.rc == 0 and out.stdout.strip() == "PONG", out.stderr


@pytest.mark.parametrize("name, check", [("at-lb1", "nginx")] + [(n, "nodejs") for n in fleet.BACKENDS])
def test_the_agent_can_read_the_logs_it_tails(name, check):
    logs = read_yaml(name, f"{CONF}/conf.d/{check}.d/conf.yaml")["logs"]
    assert logs and all(entry["service"] == "koinonia-api" for entry in logs)
    for entry in logs:
        out = as_agent(name, f"tail -n 1 {entry['path']}")
        assert out.rc == 0 and json.loads(out.stdout), entry


@pytest.mark.parametrize("name", fleet.BACKENDS)
def test_every_worker_runs_datadogs_tracer_which_says_so_in_its_startup_log(name):
    app = fleet.host(name)
    # PM2's view of its workers (their environment holds secrets: nothing of it is printed).
    seen = [(w["pm2_env"]["node_args"], w["pm2_env"]["DD_AGENT_HOST"], w["pm2_env"]["DD_SERVICE"])
            for w in json.loads(app.check_output("koinonia-api-pm2 jlist"))]
    count = len(seen)
    assert count == int(app.check_output("nproc"))
    version = fleet.backend_version(name)
    preload = f"{fleet.BASE}/shared/dd-trace-init.js"
    for args, agent_host, service in seen:
        assert args[-2:] == ["--require", preload] and agent_host == "127.0.0.1" and service == "koinonia-api"
    assert "/opt/dd-trace/" in app.check_output(f"cat {preload}")
    # The tracer starts before PM2 wires the worker's output to the app's log files: its startup log
    # is in PM2's own log, one per worker start.
    lines = [line for line in app.check_output(f"cat {fleet.BASE}/shared/pm2/pm2.log").splitlines()
             if "DATADOG TRACER CONFIGURATION - " in line]
    assert len(lines) >= count
    for line in lines[-count:]:
        startup = json.loads(line.split("DATADOG TRACER CONFIGURATION - ", 1)[1])
        assert startup["service"] == "koinonia-api" and startup["env"] == "local" and startup["dd_version"] == version
        assert startup["agent_url"] == "http://127.0.0.1:8126/" and startup["log_injection_enabled"] is True
