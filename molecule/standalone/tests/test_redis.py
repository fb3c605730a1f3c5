"""Redis: a password is required, the config file is private, memory is capped without eviction,
and the password rotates without a restart (ACL LOAD). (The job locks built on it are tested through
koinonia-locked-run in molecule/app_tier, the rotation under load there too.)"""
import json

from molecule_helpers import playbook

HOST = "mol-redis"
testinfra_hosts = [HOST]

CLI = "REDISCLI_AUTH={pw} redis-cli -h 127.0.0.1 {args}"


def test_service_running(host):
    svc = host.service("redis-server")
    assert svc.is_running
    assert svc.is_enabled


def test_unauthenticated_refused(host):
    out = host.check_output("redis-cli -h 127.0.0.1 ping")
    assert "NOAUTH" in out


def test_wrong_password_refused(host):
    out = host.run(CLI.format(pw="wrong-password-123", args="ping"))
    assert "WRONGPASS" in out.stdout + out.stderr


def test_config_file_private(host):
    conf = host.file("/etc/redis/redis.conf")
    assert conf.user == "redis"
    assert conf.mode == 0o640


def test_memory_cap_and_policy(host):
    out = host.check_output(CLI.format(pw="molecule-redis-password", args="config get maxmemory-policy"))
    assert out.splitlines()[1] == "noeviction"


def converge(password, previous=""):
    variables = json.dumps({"redis_password": password, "redis_password_previous": previous})
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "--skip-tags", "exporters", "-e", variables,
                   timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    assert password not in run.stdout and (not previous or previous not in run.stdout)
    return run.stdout


def accepted(host, password):
    return host.run(CLI.format(pw=password, args="ping")).stdout.strip() == "PONG"


def test_the_password_rotates_without_a_restart(host):
    """New and previous both accepted, then only the new one; Redis never restarts and keeps its
    clients (a client connected with the old password still gets answers); only hashes on disk."""
    old, new = "molecule-redis-password", "rotated-redis-password-2"
    pid = host.check_output("systemctl show -p MainPID --value redis-server")
    # A client authenticated with the old password sends its PING once the old one is refused:
    # only its first connection can answer (a reconnect would be refused).
    host.run("rm -f /tmp/rotated /tmp/held-client.out")
    held = (f"(while [ ! -e /tmp/rotated ]; do sleep 0.2; done; echo PING) | REDISCLI_AUTH={old} "
            "timeout 300 redis-cli -h 127.0.0.1 > /tmp/held-client.out 2>&1")
    client = host.run(f"setsid sh -c '{held}' < /dev/null > /dev/null 2>&1 & sleep 1; redis-cli -h 127.0.0.1 "
                      f"--no-auth-warning -a {old} client list | grep -c cmd=")
    assert client.rc == 0 and int(client.stdout) >= 2, client.stdout  # it and this client list
    try:
        converge(new, previous=old)
        assert accepted(host, new) and accepted(host, old)
        converge(new)
        assert accepted(host, new) and not accepted(host, old)
        acl = host.file("/etc/redis/users.acl")
        assert acl.user == "redis" and acl.mode == 0o640
        assert new not in acl.content_string and old not in acl.content_string
        assert host.check_output("systemctl show -p MainPID --value redis-server") == pid
        host.run("touch /tmp/rotated; timeout 10 sh -c 'while pgrep -f \"timeout 300 redis-cli\"; do sleep 0.2; done'")
        assert host.file("/tmp/held-client.out").content_string.strip() == "PONG"
    finally:
        converge(old, previous=new)
        converge(old)
    assert accepted(host, old) and not accepted(host, new)


def test_a_new_password_alone_is_refused_before_anything_changes(host):
    """Redis runs with one password; a run naming only another one (no redis_password_previous)
    would leave clients and the ACL file disagreeing: refused, nothing written."""
    acl = host.file("/etc/redis/users.acl").content_string
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "-e",
                   json.dumps({"redis_password": "a-new-redis-password-alone"}))
    assert run.returncode != 0
    assert "accepts neither redis_password nor redis_password_previous" in " ".join((run.stdout + run.stderr).split())
    assert "a-new-redis-password-alone" not in run.stdout + run.stderr
    assert host.file("/etc/redis/users.acl").content_string == acl
    assert accepted(host, "molecule-redis-password")
