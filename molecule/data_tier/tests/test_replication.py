"""Streaming replication: a row written on the primary is readable on the replica within a bound,
and the lag script reports numbers from pg_stat_replication."""
import json
import time

from conftest import PRIMARY, local_sql

testinfra_hosts = [PRIMARY]

# Async streaming replication is "typically under one second" (PostgreSQL docs); the bound
# leaves room for a loaded test machine.
VISIBLE_WITHIN_S = 5.0


def lag(host):
    return json.loads(host.check_output("/usr/local/bin/koinonia-replication-lag"))


def standby_lag_bytes(host):
    return lag(host)["standbys"][0]["lag_bytes"]


def test_lag_script_reports_the_standby(host):
    report = lag(host)
    assert report["in_recovery"] is False
    standby = report["standbys"][0]
    assert standby["state"] == "streaming"
    assert report["slots"][0]["slot_name"] == "mol_db_replica"
    assert report["slots"][0]["active"] is True


def test_lag_script_measures_a_standby_that_falls_behind(host, replica):
    """Replay paused on the replica, writes on the primary: the primary's lag in bytes grows, and
    the standby's own gap shows it; resumed, both go back to 0."""
    assert wait_for(lambda: standby_lag_bytes(host) == 0, 10), lag(host)
    assert local_sql(replica, "select pg_wal_replay_pause()").rc == 0
    try:
        setup = "create table if not exists lag_probe (n int, pad text)"
        assert local_sql(host, setup).rc == 0
        assert local_sql(host, "insert into lag_probe select g, repeat('x', 100) from generate_series(1, 2000) g").rc == 0
        assert wait_for(lambda: standby_lag_bytes(host) > 100_000, 10), lag(host)
        assert wait_for(lambda: lag(replica)["receive_replay_gap_bytes"] > 100_000, 10), lag(replica)
    finally:
        assert local_sql(replica, "select pg_wal_replay_resume()").rc == 0
    assert wait_for(lambda: standby_lag_bytes(host) == 0, 15), lag(host)
    assert wait_for(lambda: lag(replica)["receive_replay_gap_bytes"] == 0, 5), lag(replica)


def wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_row_visible_on_replica_within_bound(host, replica):
    marker = f"m{time.time_ns()}"
    setup = "create table if not exists replication_probe (marker text primary key, at timestamptz default now())"
    assert local_sql(host, setup).rc == 0
    assert local_sql(host, f"insert into replication_probe (marker) values ('{marker}')").rc == 0
    started = time.monotonic()
    while time.monotonic() - started < VISIBLE_WITHIN_S:
        out = local_sql(replica, f"select count(*) from replication_probe where marker = '{marker}'")
        if out.stdout.strip() == "1":
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    assert out.stdout.strip() == "1", f"not on the replica after {elapsed:.1f} s"
    print(f"row visible on the replica after {elapsed:.2f} s")


def test_replica_lag_script_in_recovery(replica):
    assert lag(replica)["in_recovery"] is True


def test_replica_is_a_clone_of_the_primary(host, replica):
    ident = "pg_controldata /var/lib/postgresql/15/main | awk -F: '/Database system identifier/ {print $2}'"
    primary_id = host.check_output(f"runuser -u postgres -- /usr/lib/postgresql/15/bin/{ident}")
    replica_id = replica.check_output(f"runuser -u postgres -- /usr/lib/postgresql/15/bin/{ident}")
    assert primary_id and primary_id == replica_id


def test_replica_streams_through_its_slot_without_password_in_config(replica):
    auto_conf = replica.file("/var/lib/postgresql/15/main/postgresql.auto.conf").content_string
    assert "primary_slot_name = 'mol_db_replica'" in auto_conf
    assert "passfile=" in auto_conf
    assert "molecule-replication-password" not in auto_conf
    pgpass = replica.file("/var/lib/postgresql/.pgpass")
    assert pgpass.user == "postgres"
    assert pgpass.mode == 0o600
    status = local_sql(replica, "select status from pg_stat_wal_receiver")
    assert status.stdout.strip() == "streaming"
