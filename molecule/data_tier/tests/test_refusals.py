"""Bad input is refused before anything live changes (one playbook per case under refuse/)."""
import os
import subprocess

from conftest import PGB, flat, local_sql, psql

testinfra_hosts = [PGB]
REFUSE = os.path.join(os.path.dirname(__file__), "..", "refuse")


def run_refusal(name):
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(REFUSE, f"{name}.yml")],
        capture_output=True, text=True, timeout=300, check=False,
    )


def test_oversubscribed_plan_refused_before_any_change(host):
    before = host.file("/etc/pgbouncer/pgbouncer.ini").sha256sum
    result = run_refusal("oversubscribed")
    assert result.returncode != 0
    out = flat(result.stdout + result.stderr)
    assert "max_db_connections=100" in out
    assert "postgres_available=97" in out
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


def test_postgresql_out_of_step_with_plan_refused(primary):
    conf = "/etc/postgresql/15/main/conf.d/50-koinonia.conf"
    before = primary.file(conf).sha256sum
    result = run_refusal("plan_mismatch")
    out = flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert "postgresql_max_connections (200) differs from the pool plan's postgres_max_connections (100)" in out
    assert primary.file(conf).sha256sum == before
