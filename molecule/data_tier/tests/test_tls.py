"""TLS: clients may reach PgBouncer over TLS, and PgBouncer reaches PostgreSQL over TLS."""
from conftest import APP_PASSWORD, PGB, local_sql

testinfra_hosts = [PGB]


def test_client_tls_through_pgbouncer(host):
    out = host.run(
        f"PGPASSWORD={APP_PASSWORD} psql 'host=127.0.0.1 port=6432 dbname=koinonia user=koinonia sslmode=require' "
        "-XAtc 'select 1'"
    )
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_client_sees_pgbouncer_certificate(host):
    out = host.run("echo | openssl s_client -starttls postgres -connect 127.0.0.1:6432 2>/dev/null"
                   " | openssl x509 -noout -subject")
    assert "CN = mol-pgb" in out.stdout


def test_server_connections_use_tls(host, primary):
    out = host.run(f"PGPASSWORD={APP_PASSWORD} psql -h 127.0.0.1 -p 6432 -U koinonia -d koinonia -XAtc 'select 1'")
    assert out.rc == 0, out.stderr
    rows = local_sql(
        primary,
        "select bool_and(s.ssl) from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'koinonia'",
    )
    assert rows.stdout.strip() == "t"
