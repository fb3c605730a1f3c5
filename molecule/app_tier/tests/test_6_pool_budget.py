"""Every server connection is in the budget: with no replica both PgBouncer aliases (koinonia and
koinonia_ro) land on the primary, and the maximum clients on both at once never take PostgreSQL
past what the plan leaves it."""
import re
import shlex

import fleet

DB = "at-db1"
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


def available(host):
    """max_connections minus the superusers' reserve and prisma migrate's connection (the plan's)."""
    show = {name: int(fleet.sql(f"show {name}")[0][0]) for name in ("max_connections", "superuser_reserved_connections")}
    return show["max_connections"] - show["superuser_reserved_connections"] - 1


def test_both_aliases_share_the_primary():
    db = fleet.host(DB)
    caps = {row["name"]: int(row["max_connections"]) for row in admin(db, "show databases") if row["name"] != "pgbouncer"}
    assert set(caps) == {"koinonia", "koinonia_ro"}
    assert all(cap > 0 for cap in caps.values()), caps
    assert sum(caps.values()) <= available(db), caps


def test_maximum_clients_on_both_aliases_stay_within_the_plan():
    db = fleet.host(DB)
    password = (fleet.ROOT / ".cache/secrets/db_password").read_text().split()[0]
    db.run_expect([0], "printf 'SELECT pg_sleep(0.2);\\n' > /var/tmp/koinonia-sleep.sql")
    bench = (f"PGPASSWORD={shlex.quote(password)} pgbench -h 127.0.0.1 -p 6432 -U koinonia -n -c {CLIENTS} -j 2 -T 8 "
             "-f /var/tmp/koinonia-sleep.sql {alias} > /var/tmp/koinonia-bench-{alias}.out 2>&1")
    both = " & ".join(bench.format(alias=alias) for alias in ("koinonia", "koinonia_ro")) + " & wait"
    db.run(f"rm -f {SAMPLES}")
    db.run_expect([0], f"systemd-run --quiet --collect --unit=koinonia-pool-sampler sh -c {shlex.quote(SAMPLER)}")
    try:
        db.run(f"ulimit -n 8192; {both}")
    finally:
        db.run("systemctl stop koinonia-pool-sampler")
    samples = [int(s) for s in db.file(SAMPLES).content_string.split()]
    for alias in ("koinonia", "koinonia_ro"):
        out = db.file(f"/var/tmp/koinonia-bench-{alias}.out").content_string
        assert f"number of clients: {CLIENTS}" in out, out[-2000:]
        assert re.search(r"number of failed transactions: 0 ", out), out[-2000:]
        assert "remaining connection slots" not in out and "too many clients" not in out, out[-2000:]
    caps = sum(int(row["max_connections"]) for row in admin(db, "show databases") if row["name"] != "pgbouncer")
    assert max(samples) > 50, f"the load never filled the pools ({max(samples)} server connections)"
    assert max(samples) <= caps <= available(db), (max(samples), caps, available(db))
    print(f"{2 * CLIENTS} clients on both aliases: PostgreSQL saw at most {max(samples)} app connections "
          f"(caps {caps}, available {available(db)})")
