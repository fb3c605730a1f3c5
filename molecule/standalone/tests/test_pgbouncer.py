"""PgBouncer in front of PostgreSQL: clients get in with md5 (old clients), queries pass through, limits come from the plan."""
import hashlib
import sys

import pytest

from molecule_helpers import ROOT, playbook

sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.koinonia.fleet.plugins.filter.pool_plan import pool_plan  # noqa: E402

HOST = "mol-pgbouncer"
testinfra_hosts = [HOST]

# The host's vCPUs: PgBouncer runs one process per vCPU (pgbouncer_processes), and the scenario's plan
# counts each as an instance (molecule.yml). Containers see the machine's processors.
VCPUS = sum(1 for line in open("/proc/cpuinfo", encoding="ascii") if line.startswith("processor"))
# converge.yml's fleet, with what the role adds: its one database (the role's default) and no auth_query.
PLAN = pool_plan({"backends": 3, "processes_per_backend": 2, "connection_limit": 5, "postgres_max_connections": 100,
                  "pgbouncer_instances": VCPUS,
                  "databases": [{"name": "koinonia", "host": "127.0.0.1", "port": 5432}], "auth_user": False})

PSQL = "PGPASSWORD={pw} PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p 6432 -U koinonia -d koinonia -Atc {sql!r}"
ADMIN = "su postgres -c \"psql -h /var/run/postgresql -p 6432 -d pgbouncer -Atc '{sql}'\""


def test_service_running(host):
    svc = host.service("pgbouncer")
    assert svc.is_running
    assert svc.is_enabled


def test_query_passes_through_pgbouncer(host):
    out = host.check_output(PSQL.format(pw="molecule-app-password", sql="select current_setting('application_name')"))
    # application_name_add_host: PgBouncer appended the client's address.
    assert "127.0.0.1:" in out


def test_wrong_password_refused(host):
    cmd = host.run(PSQL.format(pw="nope-nope-nope", sql="select 1"))
    assert cmd.rc != 0
    assert "authentication failed" in cmd.stderr


def test_transaction_pool_mode(host):
    for _ in range(10):  # a pool appears on a process once a client used it: spread logins over the processes
        host.check_output(PSQL.format(pw="molecule-app-password", sql="select 1"))
    modes = [row["pool_mode"] for row in console(host, "SHOW POOLS") if row["database"] == "koinonia"]
    assert modes and set(modes) == {"transaction"}, modes


def test_pool_settings_are_the_plans(host):
    """Every pool number PgBouncer runs with is the plan's, as koinonia.fleet.pool_plan computes it
    for converge.yml's fleet (3 backends x 2 processes x connection_limit 5, PostgreSQL 100)."""
    config = {row.split("|")[0]: row.split("|")[1] for row in host.check_output(ADMIN.format(sql="show config")).splitlines()}
    assert config["pool_mode"] == "transaction"
    for key in ("max_client_conn", "default_pool_size", "min_pool_size", "reserve_pool_size", "max_db_connections",
                "max_user_connections", "reserve_pool_timeout"):
        assert float(config[key]) == float(PLAN[key]), (key, config[key], PLAN[key])
    assert PLAN["max_db_connections"] == 96 // VCPUS  # 100 max_connections - 3 reserved - 1 migration, per process
    out = host.check_output(ADMIN.format(sql="show databases").replace("-Atc", "-A -P footer=off -c"))
    header, *rows = [line.split("|") for line in out.splitlines()]
    databases = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert databases["koinonia"]["max_connections"] == str(PLAN["database_connections"]["koinonia"]) == str(96 // VCPUS)


def console(host, command):
    """pgbouncer-console's CSV (one row per process and line) as dicts."""
    import csv
    import io
    return list(csv.DictReader(io.StringIO(host.check_output(f"pgbouncer-console {command!r}"))))


def test_one_process_per_vcpu_sharing_the_port(host):
    assert int(host.check_output("pgrep -c -u postgres -x pgbouncer")) == VCPUS
    for n in range(2, VCPUS + 1):
        assert host.service(f"pgbouncer@{n}").is_running and host.service(f"pgbouncer@{n}").is_enabled
    config = console(host, "SHOW CONFIG")
    assert {row["process"] for row in config} == {str(n) for n in range(1, VCPUS + 1)}
    assert {row["value"] for row in config if row["key"] == "so_reuseport"} == {"1"}
    assert len({row["value"] for row in config if row["key"] == "unix_socket_dir"}) == VCPUS  # one each


def test_connections_spread_over_every_process(host):
    """The kernel hands new connections to every process (so_reuseport): 40 logins reach each one."""
    def logins():
        return {row["process"]: int(row["total_xact_count"]) for row in console(host, "SHOW STATS")
                if row["database"] == "koinonia"}
    before = logins()
    host.check_output("for i in $(seq 1 40); do " + PSQL.format(pw="molecule-app-password", sql="select 1")
                      + " >/dev/null || exit 1; done")
    after = logins()
    assert set(after) == {str(n) for n in range(1, VCPUS + 1)}
    assert all(after[p] > before.get(p, 0) for p in after), (before, after)


def test_fd_limit_is_the_plans(host):
    for unit in ["pgbouncer"] + [f"pgbouncer@{n}" for n in range(2, VCPUS + 1)]:
        pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
        limits = host.file(f"/proc/{pid}/limits").content_string
        soft = next(line.split()[3] for line in limits.splitlines() if line.startswith("Max open files"))
        assert int(soft) == PLAN["nofile"], unit


def test_userlist_holds_md5_hash_not_plaintext(host):
    userlist = host.file("/etc/pgbouncer/userlist.txt")
    assert userlist.user == "postgres"
    assert userlist.mode == 0o640
    assert "molecule-app-password" not in userlist.content_string
    # md5(password || username), as PostgreSQL stores it.
    expected = "md5" + hashlib.md5(b"molecule-app-passwordkoinonia").hexdigest()
    assert f'"koinonia" "{expected}"' in userlist.content_string


def test_md5_in_both_hba_files(host):
    hba = host.file("/etc/pgbouncer/pgbouncer_hba.conf").content_string
    assert "koinonia   127.0.0.1/32   md5" in hba and "0.0.0.0/0   md5" not in hba  # loopback only by default
    assert "koinonia   127.0.0.1/32   md5" in host.file("/etc/postgresql/15/main/pg_hba.conf").content_string


def converge(*extra):
    """The scenario's converge again, with extra variables."""
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "--skip-tags", "exporters", *extra, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    return run.stdout


def main_pid(host):
    return host.check_output("systemctl show -p MainPID --value pgbouncer")


def test_a_pool_setting_reloads_a_listen_setting_restarts(host):
    before = main_pid(host)
    converge("-e", '{"pgbouncer_settings": {"server_idle_timeout": 30}}')
    assert main_pid(host) == before  # reloaded, clients kept
    assert "server_idle_timeout|30|" in host.check_output(ADMIN.format(sql="show config"))
    try:
        out = converge("-e", "pgbouncer_listen_port=6433")
        assert "PgBouncer is RESTARTED" in out
        assert main_pid(host) != before
        port = host.check_output(PSQL.replace("6432", "6433").format(pw="molecule-app-password", sql="select 1"))
        assert port == "1"
    finally:
        converge()
    assert host.check_output(PSQL.format(pw="molecule-app-password", sql="select 1")) == "1"


def test_fewer_processes_stop_and_remove_the_rest(host):
    if VCPUS < 2:
        pytest.skip("one vCPU: PgBouncer runs one process, there is no other to remove")
    first = main_pid(host)
    try:
        converge("-e", "pgbouncer_processes=1")
        assert int(host.check_output("pgrep -c -u postgres -x pgbouncer")) == 1
        assert main_pid(host) == first  # process 1 kept its clients
        assert not host.service("pgbouncer@2").is_running and not host.service("pgbouncer@2").is_enabled
        assert not host.file("/etc/pgbouncer/pgbouncer-2.ini").exists
        assert host.check_output(PSQL.format(pw="molecule-app-password", sql="select 1")) == "1"
    finally:
        converge()
    assert int(host.check_output("pgrep -c -u postgres -x pgbouncer")) == VCPUS
    assert main_pid(host) == first


def test_more_processes_than_the_plan_counts_are_refused(host):
    """Every process opens pools of its own: a plan that counts fewer would oversubscribe PostgreSQL."""
    before = host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "--skip-tags", "exporters",
                   "-e", f"pgbouncer_processes={VCPUS + 1}", timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"pgbouncer_processes={VCPUS + 1}" in out and f"pgbouncer_instances={VCPUS}" in out, out[-3000:]
    assert host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum == before
    assert not host.file(f"/etc/pgbouncer/pgbouncer-{VCPUS + 1}.ini").exists


def listeners(host):
    """The TCP listening sockets on 6432: one per process (listen_addr is loopback only). ss cannot name their
    processes here (root in a container may not read another user's descriptors); the role's module runs as postgres."""
    return len(host.check_output("ss -Hltn sport = :6432").splitlines())


def test_a_process_that_could_not_bind_the_port_is_restarted(host):
    """PgBouncer that finds its port taken starts anyway, on its local socket only: no backend reaches it. The role
    finds such processes, restarts them, and refuses to finish while the port stays taken."""
    units = ["pgbouncer"] + [f"pgbouncer@{n}" for n in range(2, VCPUS + 1)]
    blocker = ("systemd-run --unit=port-blocker python3 -c 'import socket, time; s = socket.socket(); "
               "s.bind((\"127.0.0.1\", 6432)); s.listen(); time.sleep(900)'")
    try:
        host.check_output("systemctl stop " + " ".join(reversed(units)))
        host.check_output(blocker)
        # the blocker must hold the port before PgBouncer starts: a slow python start (CI's loaded cores) let both
        # processes bind first, and the test then counted theirs instead of the blocker's
        host.check_output("for i in $(seq 100); do ss -Hltn sport = :6432 | grep -q . && exit 0; sleep 0.1; done; exit 1")
        host.check_output("systemctl start " + " ".join(units))
        assert all(host.service(unit).is_running for unit in units)  # up, but deaf on TCP
        assert listeners(host) == 1  # the blocker's socket only
        run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "--skip-tags", "exporters", timeout=600)
        out = run.stdout + run.stderr
        assert run.returncode != 0
        assert "do not listen on TCP port 6432 (pgbouncer_listen_port) even after a restart" in out, out[-3000:]
        host.check_output("systemctl stop port-blocker")
        assert listeners(host) == 0  # still deaf: systemctl start alone would not bring them back
        converge()  # restarts the deaf processes
        assert listeners(host) == VCPUS
        assert host.check_output(PSQL.format(pw="molecule-app-password", sql="select 1")) == "1"
    finally:
        host.run("systemctl stop port-blocker; systemctl reset-failed port-blocker")
        if listeners(host) < VCPUS:
            host.run("systemctl restart " + " ".join(units))  # leave the next tests a listening PgBouncer
