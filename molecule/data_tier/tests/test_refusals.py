"""Bad input is refused before anything live changes (one playbook per case under refuse/)."""
from conftest import PGB, local_sql, psql
from molecule_helpers import flat, playbook

testinfra_hosts = [PGB]


def run_refusal(name):
    return playbook(f"molecule/data_tier/refuse/{name}.yml", timeout=300)


def test_oversubscribed_plan_refused_before_any_change(host):
    before = host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum
    result = run_refusal("oversubscribed")
    assert result.returncode != 0
    out = flat(result.stdout + result.stderr)
    assert "max_db_connections=100" in out
    assert "postgres_available=96" in out  # 100 - 3 reserved - 1 for migrations
    assert "changed=0" in out
    assert host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum == before
    assert host.service("pgbouncer").is_running


def test_replica_never_cloned_over_a_primary(primary):
    result = run_refusal("clone_over_primary")
    assert result.returncode != 0
    out = flat(result.stdout + result.stderr)
    assert "it looks like a primary" in out
    assert "mol-db-primary : ok=" in out and "changed=0" in out
    assert local_sql(primary, "select pg_is_in_recovery()").stdout.strip() == "f"


def test_setting_pgbouncer_rejects_never_goes_live(host):
    before = host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum
    main_pid = host.check_output("systemctl show -p MainPID --value pgbouncer")
    result = run_refusal("bad_setting")
    out = flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert "unknown parameter" in out
    assert host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum == before
    assert host.check_output("systemctl show -p MainPID --value pgbouncer") == main_pid
    assert psql(host, "select 1").stdout.strip() == "1"


def test_max_connections_comes_from_the_plan(primary):
    conf = "/etc/postgresql/15/main/conf.d/50-koinonia.conf"
    before = primary.file(conf).sha256sum
    result = run_refusal("plan_governs")
    out = flat(result.stdout + result.stderr)
    assert result.returncode == 0, out[-2000:]
    assert "mol-db-primary : ok=" in out and "changed=0" in out
    assert primary.file(conf).sha256sum == before
    assert local_sql(primary, "show max_connections").stdout.strip() == "100"
    assert local_sql(primary, "show superuser_reserved_connections").stdout.strip() == "3"
