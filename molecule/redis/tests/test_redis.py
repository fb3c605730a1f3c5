"""Redis: a password is required, the config file is private, memory is capped without eviction.
(The job locks built on it are tested through koinonia-locked-run in molecule/app_tier.)"""

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
