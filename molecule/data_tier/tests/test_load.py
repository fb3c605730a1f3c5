"""1,000 clients through PgBouncer: zero failed transactions, and PostgreSQL never sees more
server connections than the pool plan allows. The same 1,000 clients straight at PostgreSQL fail.
A PgBouncer reload during a run drops no client."""
import re
import shlex

import pytest
from conftest import APP_PASSWORD, PGB, psql

testinfra_hosts = [PGB]

PGBENCH = f"PGPASSWORD={APP_PASSWORD} pgbench -h {{server}} -p {{port}} -U koinonia -n {{args}} koinonia"
# Samples PostgreSQL's view of the app's server connections every 0.1 s (bounded: 400 samples).
SAMPLE_SQL = "select count(*) from pg_stat_activity where usename = 'koinonia' and backend_type = 'client backend'"
SAMPLER = (
    "runuser -u postgres -- sh -c "
    + shlex.quote(f"for i in $(seq 1 400); do psql -XAtc {shlex.quote(SAMPLE_SQL)}; sleep 0.1; done")
    + " > /var/tmp/koinonia-samples"
)


@pytest.fixture(scope="module")
def initialised(host):
    init = host.run(PGBENCH.format(server="mol-db-primary", port=5432, args="-i -s 2 -q").replace(" -n ", " "))
    assert init.rc == 0, init.stderr
    return True


def server_cap(host):
    config = dict(line.split("|")[:2] for line in psql(host, "show config", db="pgbouncer").stdout.splitlines())
    cap = int(config["default_pool_size"]) + int(config["reserve_pool_size"])
    if int(config["max_db_connections"]) > 0:
        cap = min(cap, int(config["max_db_connections"]))
    # Each PgBouncer process (pgbouncer_processes) opens its own pools.
    return cap * int(host.check_output("pgrep -c -u postgres -x pgbouncer"))


def failed_transactions(output):
    match = re.search(r"number of failed transactions: (\d+)", output)
    assert match, output
    return int(match.group(1))


def test_thousand_clients_through_pgbouncer(host, primary, initialised):
    primary.run("rm -f /var/tmp/koinonia-samples")
    # Transient units, so background work outlives the docker exec that starts it.
    primary.run_expect([0], f"systemd-run --quiet --collect --unit=koinonia-sampler sh -c {shlex.quote(SAMPLER)}")
    run = host.run(PGBENCH.format(server="127.0.0.1", port=6432, args="-c 1000 -j 4 -t 10 -N"))
    primary.run("systemctl stop koinonia-sampler")
    assert run.rc == 0, run.stderr[-2000:]
    assert "number of clients: 1000" in run.stdout
    assert "number of transactions actually processed: 10000/10000" in run.stdout
    assert failed_transactions(run.stdout) == 0
    samples = [int(s) for s in primary.file("/var/tmp/koinonia-samples").content_string.split()]
    assert samples, "the sampler saw nothing"
    assert max(samples) > 0, "the sampler never saw the load"
    assert max(samples) <= server_cap(host), f"PostgreSQL saw {max(samples)} server connections"
    print(f"1000 clients through PgBouncer; PostgreSQL saw at most {max(samples)} server connections (cap {server_cap(host)})")


def test_thousand_clients_straight_at_postgresql_fail(host, initialised):
    run = host.run(PGBENCH.format(server="mol-db-primary", port=5432, args="-c 1000 -j 4 -t 1 -S"))
    assert run.rc != 0
    # PostgreSQL runs out of slots: "too many clients already", or first "remaining connection
    # slots are reserved" once only the superuser_reserved_connections are left.
    assert re.search(r"too many clients|remaining connection slots are reserved", run.stderr), run.stderr[-2000:]
    assert "could not create connection" in run.stderr


def test_reload_during_load_drops_no_client(host, initialised):
    host.run("rm -f /var/tmp/pgbench-reload.out")
    bench = PGBENCH.format(server="127.0.0.1", port=6432, args="-c 200 -j 2 -T 8 -N")
    script = f"{bench} > /var/tmp/pgbench-reload.out 2>&1; echo rc=$? >> /var/tmp/pgbench-reload.out"
    host.run_expect([0], f"systemd-run --quiet --collect --unit=koinonia-pgbench-reload sh -c {shlex.quote(script)}")
    host.run("sleep 3")
    assert host.run("systemctl reload pgbouncer").rc == 0
    host.run("for i in $(seq 1 30); do grep -q '^rc=' /var/tmp/pgbench-reload.out && break; sleep 1; done")
    output = host.file("/var/tmp/pgbench-reload.out").content_string
    assert "rc=0" in output, output[-2000:]
    assert failed_transactions(output) == 0
    assert "number of clients: 200" in output
    assert "aborted" not in output
