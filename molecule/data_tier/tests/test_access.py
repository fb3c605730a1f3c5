"""Who may log in: the right password from a PgBouncer host only."""
from conftest import PGB, psql

testinfra_hosts = [PGB]


def test_wrong_password_refused(host):
    out = psql(host, "select 1", password="not-the-password")
    assert out.rc != 0
    assert "authentication failed" in out.stderr


def test_host_not_in_pg_hba_refused(replica):
    # The replica host is not a PgBouncer host: PostgreSQL rejects it even with the right password.
    out = psql(replica, "select 1", port=5432, server="mol-db-primary")
    assert out.rc != 0
    assert "pg_hba.conf rejects connection" in out.stderr


def test_pgbouncer_host_may_reach_primary_directly(host):
    out = psql(host, "select 1", port=5432, server="mol-db-primary")
    assert out.rc == 0, out.stderr


def test_pgbouncer_refuses_a_host_not_in_its_client_cidrs(replica):
    # PgBouncer listens on its private address too, but logins come from loopback only here
    # (pgbouncer_client_cidrs): the right password from another host is refused.
    out = psql(replica, "select 1", port=6432, server="mol-pgb")
    assert out.rc != 0
    assert "rejected" in out.stderr, out.stderr  # PgBouncer: "login rejected" (no hba line matches)
