"""Failure containment, each fault injected while a bounded mixed load runs through the LB
(fleet.MIX: /health, /api/whoami with no dependency, /api/messages on the database, /api/online
on Redis, /health/detailed at a monitoring rate; keep-alive connections; a writer where no
backend dies under a request):

* a shared dependency restarted (Redis, PgBouncer, PostgreSQL): routes that do not need it lose
  no request; the ones that do fail only while it is away (plus at most 1 s); no acknowledged
  write is lost; NGINX takes no backend out of rotation;
* every app process of one backend SIGKILLed: no failed request, none slower than 2 s, the app
  serving again within 15 s;
* one backend frozen for 20 s (docker pause): no failed request, none slower than the LB's
  proxy_read_timeout plus 2 s (the bound after which a request is retried elsewhere), the
  backend back in rotation after it thaws;
* one backend's app hung (SIGSTOP): the health check kills and restarts it, no failed request.
Each drill also checks that its fault reached the traffic (the backend served before it, a
request waited on it, NGINX logged it), so none can pass with nothing happening.
The numbers go to the run's summary and build/drills/app_tier.json (conftest.py)."""
import http.client
import json
import shlex
import subprocess
import time

import pytest

import fleet
from fleet import ADDRESS, CHECK, MIX_WITH_WRITES, events, load, log_length, report, wait_for

ERROR_LOG = "/var/log/nginx/error.log"
# The LB's proxy_read_timeout (nginx_lb_proxy_read_timeout): a request on a hung backend waits
# this long before NGINX tries it on another one.
READ_TIMEOUT_S = 5
# Each dependency: its host, its unit, a probe that passes once it serves again, the routes that need it.
DEPENDENCIES = {
    "redis": ("at-cache1", "redis-server", "redis-cli -h 127.0.0.1 ping 2>&1 | grep -qE 'PONG|NOAUTH'",
              {"redis", "monitor"}),
    "pgbouncer": ("at-db1", "pgbouncer", "pg_isready -q -h 127.0.0.1 -p 6432", {"db", "monitor", "write"}),
    "postgresql": ("at-db1", "postgresql@15-main", "pg_isready -q -h 127.0.0.1 -p 5432", {"db", "monitor", "write"}),
}
ROUTES = ("health", "plain", "db", "redis", "monitor", "write")


def error_log_size():
    return int(fleet.host("at-lb1").check_output(f"stat -c %s {ERROR_LOG}"))


def taken_out_of_rotation(since):
    """Backend addresses NGINX marked failed (or found none alive) in its error log since `since` bytes."""
    text = fleet.host("at-lb1").check_output(f"tail -c +{since + 1} {ERROR_LOG}")
    out = set()
    for line in text.splitlines():
        if "temporarily disabled" in line or "no live upstreams" in line:
            upstream = line.split('upstream: "', 1)[1].split('"', 1)[0] if 'upstream: "' in line else "all"
            out.add(upstream.split("//", 1)[-1].split("/", 1)[0])
    return out


def answers(address, timeout=0.5):
    """GET /health straight from a backend (the controller reaches the fleet network)."""
    conn = http.client.HTTPConnection(address, 3000, timeout=timeout)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def first_answer(address, timeout):
    """Wall-clock time of the backend's first answer to /health, or None within `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if answers(address):
            return time.time()
        time.sleep(0.1)
    return None


def served_by(traffic, name, after=0.0, before=float("inf")):
    return [r.start for r in list(traffic.records) if r.host == name and after < r.start < before]


def first_served_by(traffic, name, after, timeout):
    """Wall-clock time the LB first sent `name` a request started after `after`, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        served = served_by(traffic, name, after)
        if served:
            return min(served)
        time.sleep(0.2)
    return None


def on_host(name, command):
    """Run a shell command on a fleet host; the host's clock (date +%s.%N) just before it."""
    out = fleet.host(name).check_output(f"date +%s.%N; {command}")
    return float(out.split()[0]), out


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_a_dependency_restart_costs_only_the_routes_that_need_it(dependency):
    name, unit, probe, needs = DEPENDENCIES[dependency]
    pid = f"systemctl show -p MainPID --value {unit}"
    since = error_log_size()
    with load(MIX_WITH_WRITES) as traffic:
        time.sleep(5)
        wait = shlex.quote(f"until {probe}; do sleep 0.05; done")
        # Every PgBouncer process (pgbouncer_processes): the others would serve the port meanwhile.
        units = fleet.pgbouncer_units() if dependency == "pgbouncer" else unit
        down, out = on_host(name, f"{pid}; systemctl restart {units} && timeout 60 sh -c {wait} && {pid}; date +%s.%N")
        before, after, back = out.split()[1:4]
        back = float(back)
        time.sleep(6)
    in_window = {r: sum(down <= f.end <= back + 1.0 for f in traffic.failures(r)) for r in sorted(needs)}
    summary = report(f"{dependency} restarted", traffic, away_s=round(back - down, 2), failed_while_away=in_window)
    assert before != after, f"{unit} was not restarted (main PID {before} before and after)"
    assert summary["requests"] > 500
    assert summary["keepalive_resets"] == 0
    for route in ROUTES:
        failures = traffic.failures(route)
        if route not in needs:
            assert failures == [], (route, summary["first_failures"])
        else:
            late = [(round(f.start - down, 2), round(f.end - down, 2), f.kind) for f in failures
                    if not down <= f.end <= back + 1.0]
            assert late == [], (route, f"away {back - down:.2f} s", late[:10])
    assert summary["lost_writes"] == []
    assert taken_out_of_rotation(since) == set()


def test_a_crashed_backend_costs_no_request_and_serves_again_within_15s():
    name = "at-app2"
    since = error_log_size()
    with load() as traffic:
        time.sleep(4)
        killed, _ = on_host(name, "systemctl kill --signal=SIGKILL koinonia-api")
        serving = first_answer(ADDRESS[name], 60)
        in_rotation = first_served_by(traffic, name, killed + 0.5, 60)
        time.sleep(3)
    summary = report("backend crashed (SIGKILL of PM2 and workers)", traffic,
                     serving_again_s=serving and round(serving - killed, 1),
                     back_in_rotation_s=in_rotation and round(in_rotation - killed, 1))
    assert served_by(traffic, name, before=killed)  # it was in rotation when it died
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["keepalive_resets"] == 0
    assert summary["max_ms"] <= 2000, summary["routes"]
    assert serving is not None and serving - killed <= 15
    assert in_rotation is not None
    assert taken_out_of_rotation(since) == {f"{ADDRESS[name]}:3000"}  # NGINX saw it, and only it


def test_a_frozen_backend_costs_no_idempotent_request():
    name = "at-app3"
    since = error_log_size()
    with load() as traffic:
        time.sleep(4)
        frozen = time.time()
        subprocess.run(["docker", "pause", name], check=True)
        try:
            time.sleep(20)
        finally:
            subprocess.run(["docker", "unpause", name], check=True)
        thawed = time.time()
        in_rotation = first_served_by(traffic, name, thawed, 60)
        time.sleep(3)
    summary = report("backend frozen 20 s (docker pause)", traffic,
                     back_in_rotation_after_thaw_s=in_rotation and round(in_rotation - thawed, 1))
    assert served_by(traffic, name, before=frozen)
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["keepalive_resets"] == 0
    # Requests that met the frozen backend waited for the read timeout, then went elsewhere.
    assert READ_TIMEOUT_S * 1000 <= summary["max_ms"] <= (READ_TIMEOUT_S + 2) * 1000, summary["routes"]
    assert in_rotation is not None
    assert taken_out_of_rotation(since) <= {f"{ADDRESS[name]}:3000"}  # no other backend


def test_a_hung_app_is_killed_and_restarted_by_the_health_check():
    name = "at-app1"
    app = fleet.host(name)
    threshold = json.loads(app.check_output("cat /etc/koinonia-health/config.json"))["failure_threshold"]
    start = log_length(app)
    with load() as traffic:
        time.sleep(4)
        hung, _ = on_host(name, "systemctl kill --signal=SIGSTOP koinonia-api")  # accepts, never answers
        for _ in range(threshold):  # what cron does once a minute, back to back
            app.run(CHECK)
        serving = first_answer(ADDRESS[name], 60)
        time.sleep(3)
    summary = report("app hung (SIGSTOP), health check restarts it", traffic,
                     serving_again_s=serving and round(serving - hung, 1))
    assert served_by(traffic, name, before=hung)
    names = [e["event"] for e in events(app, start)]
    assert "app_killed_hung" in names and "app_restarted" in names, names
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["keepalive_resets"] == 0
    assert READ_TIMEOUT_S * 1000 <= summary["max_ms"] <= (READ_TIMEOUT_S + 2) * 1000, summary["routes"]
    assert serving is not None
    assert wait_for(lambda: answers(ADDRESS[name]), 10, 0.5)
