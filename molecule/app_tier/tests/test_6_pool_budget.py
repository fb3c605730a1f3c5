"""Every server connection is in the budget: each PgBouncer alias lands on its own server since
phase 6 (koinonia on the primary, koinonia_ro on the replica), capped at what the plan leaves that
server, and the maximum clients on both aliases at once never take either server past it."""
import re
import shlex

import fleet

DB = "at-db1"  # PostgreSQL primary and PgBouncer
SERVERS = {"koinonia": "at-db1", "koinonia_ro": "at-db2"}
ADDRESSES = {"at-db1": "172.30.58.31", "at-db2": "172.30.58.32"}
SAMPLES = "/var/tmp/koinonia-pool-samples"
SAMPLE_SQL = "select count(*) from pg_stat_activity where usename = 'koinonia' and backend_type = 'client backend'"
SAMPLER = ("runuser -u postgres -- sh -c "
           + shlex.quote(f"for i in $(seq 1 300); do psql -XAtc {shlex.quote(SAMPLE_SQL)}; sleep 0.1; done")
           + f" > {SAMPLES}")
CLIENTS = 450  # per alias: 900 of max_client_conn 1000, beside the app's own


def admin(host, command):
    console = f"psql -h /var/run/postgresql -p 6432 -d pgbouncer -A -P footer=off -c {shlex.quote(command)}"
    out = host.check_output(f"su postgres -c {shlex.quote(console)}")
    header, *rows = [line.split("|") for line in out.splitlines()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def available(name):
    """max_connections minus the superusers' reserve and prisma migrate's connection (the plan's)."""
    def show(setting):
        psql = f"psql -XAtc {shlex.quote('show ' + setting)}"
        return int(fleet.host(name).check_output(f"su postgres -c {shlex.quote(psql)}"))
    return show("max_connections") - show("superuser_reserved_connections") - 1


def processes():
    """PgBouncer's processes on DB (pgbouncer_processes): each holds pools of its own."""
    out = fleet.host(DB).check_output("pgbouncer-console 'SHOW DATABASES'")
    return len({line.split(",")[0] for line in out.splitlines()[1:]})


def databases():
    return {row["name"]: row for row in admin(fleet.host(DB), "show databases") if row["name"] != "pgbouncer"}


def test_each_alias_has_its_own_server_and_a_cap_within_it():
    rows = databases()
    assert set(rows) == set(SERVERS)
    for alias, server in SERVERS.items():
        assert rows[alias]["host"] == ADDRESSES[server], rows[alias]
        assert 0 < int(rows[alias]["max_connections"]) * processes() <= available(server), rows[alias]


def test_maximum_clients_on_both_aliases_stay_within_the_plan():
    db = fleet.host(DB)
    password = (fleet.ROOT / ".cache/secrets/db_password").read_text().split()[0]
    db.run_expect([0], "printf 'SELECT pg_sleep(0.2);\\n' > /var/tmp/koinonia-sleep.sql")
    bench = (f"PGPASSWORD={shlex.quote(password)} pgbench -h 127.0.0.1 -p 6432 -U koinonia -n -c {CLIENTS} -j 2 -T 8 "
             "-f /var/tmp/koinonia-sleep.sql {alias} > /var/tmp/koinonia-bench-{alias}.out 2>&1")
    both = " & ".join(bench.format(alias=alias) for alias in SERVERS) + " & wait"
    servers = sorted(set(SERVERS.values()))
    for name in servers:
        fleet.host(name).run(f"rm -f {SAMPLES}")
        fleet.host(name).run_expect(
            [0], f"systemd-run --quiet --collect --unit=koinonia-pool-sampler sh -c {shlex.quote(SAMPLER)}")
    try:
        db.run(f"ulimit -n 8192; {both}")
    finally:
        for name in servers:
            fleet.host(name).run("systemctl stop koinonia-pool-sampler")
    samples = {name: [int(x) for x in fleet.host(name).file(SAMPLES).content_string.split()] for name in servers}
    for alias in SERVERS:
        out = db.file(f"/var/tmp/koinonia-bench-{alias}.out").content_string
        assert f"number of clients: {CLIENTS}" in out, out[-2000:]
        assert re.search(r"number of failed transactions: 0 ", out), out[-2000:]
        assert "remaining connection slots" not in out and "too many clients" not in out, out[-2000:]
    rows = databases()
    for alias, server in SERVERS.items():
        cap = int(rows[alias]["max_connections"]) * processes()  # every PgBouncer process's share
        assert max(samples[server]) > 20, f"the load never filled {alias}'s pool ({max(samples[server])} connections)"
        assert max(samples[server]) <= cap <= available(server), (alias, max(samples[server]), cap, available(server))
        print(f"{CLIENTS} clients on {alias}: {server} saw at most {max(samples[server])} app connections "
              f"(cap {cap}, available {available(server)})")
