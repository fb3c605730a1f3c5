"""The read-write alias lands on the primary, the read-only alias on the replica, which refuses writes."""
from conftest import PGB, psql

testinfra_hosts = [PGB]


def test_rw_alias_on_primary(host):
    out = psql(host, "select pg_is_in_recovery()")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "f"


def test_ro_alias_on_replica(host):
    out = psql(host, "select pg_is_in_recovery()", db="koinonia_ro")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "t"


def test_ro_alias_refuses_writes(host):
    out = psql(host, "create table molecule_should_fail (id int)", db="koinonia_ro")
    assert out.rc != 0
    assert "read-only transaction" in out.stderr


def test_stats_user_sees_pools(host):
    # Over TCP the kernel picks one of PgBouncer's processes (pgbouncer_processes), and a process shows
    # a pool once a client used it there: use the read alias on every process first (logins spread).
    for _ in range(12):
        assert psql(host, "select 1", db="koinonia_ro").rc == 0
    seen = set()
    for _ in range(12):
        out = psql(host, "show pools", db="pgbouncer")
        assert out.rc == 0, out.stderr
        seen.add("koinonia_ro|koinonia" in out.stdout)
    assert seen == {True}, "a PgBouncer process showed no koinonia_ro pool to the stats user"
