"""Redis: a password is required, locks can be taken with SET NX PX, the config file is private."""

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


def test_lock_set_nx_px(host):
    host.check_output(CLI.format(pw="molecule-redis-password", args="del molecule:lock"))
    first = host.check_output(CLI.format(pw="molecule-redis-password", args="set molecule:lock a NX PX 30000"))
    second = host.check_output(CLI.format(pw="molecule-redis-password", args="set molecule:lock b NX PX 30000"))
    assert first == "OK"
    assert second == ""
    ttl = int(host.check_output(CLI.format(pw="molecule-redis-password", args="pttl molecule:lock")))
    assert 0 < ttl <= 30000


def test_config_file_private(host):
    conf = host.file("/etc/redis/redis.conf")
    assert conf.user == "redis"
    assert conf.mode == 0o640


def test_memory_cap_and_policy(host):
    out = host.check_output(CLI.format(pw="molecule-redis-password", args="config get maxmemory-policy"))
    assert out.splitlines()[1] == "noeviction"
