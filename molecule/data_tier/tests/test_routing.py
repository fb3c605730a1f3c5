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
    out = psql(host, "show pools", db="pgbouncer")
    assert out.rc == 0, out.stderr
    assert "koinonia_ro|koinonia" in out.stdout
