"""auth_query: a role that is not in userlist.txt logs in through PgBouncer with its own password,
looked up by the dedicated lookup role; superusers cannot be looked up."""
import pytest
from conftest import PGB, local_sql
from molecule_helpers import flat

testinfra_hosts = [PGB]
REPORTING_PASSWORD = "molecule-reporting-password"


@pytest.fixture(scope="module")
def reporting_role(primary):
    local_sql(primary, "drop role if exists reporting")
    created = local_sql(primary, f"create role reporting login password '{REPORTING_PASSWORD}'")
    assert created.rc == 0, created.stderr
    yield "reporting"
    local_sql(primary, "drop role if exists reporting")


def reporting_psql(host, password):
    return host.run(
        f"PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -X -h 127.0.0.1 -p 6432 -U reporting -d koinonia "
        "-Atc 'select current_user'"
    )


def test_role_not_in_userlist(host):
    userlist = host.file("/etc/pgbouncer/userlist.txt")
    assert '"reporting"' not in userlist.content_string
    assert '"pgbouncer_auth"' in userlist.content_string
    assert userlist.mode == 0o640


def test_lookup_lets_the_role_in(host, reporting_role):
    out = reporting_psql(host, REPORTING_PASSWORD)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "reporting"


def test_lookup_refuses_a_wrong_password(host, reporting_role):
    out = reporting_psql(host, "not-the-reporting-password")
    assert out.rc != 0
    assert "authentication failed" in flat(out.stderr)


def test_only_the_lookup_role_may_call_get_auth(primary):
    may = local_sql(primary, "select has_function_privilege('koinonia', 'pgbouncer.get_auth(text)', 'execute')")
    assert may.stdout.strip() == "f"
    superuser = local_sql(primary, "select count(*) from pgbouncer.get_auth('postgres')")
    assert superuser.stdout.strip() == "0"
