"""Failure containment, each fault injected while a bounded mixed load runs through the LB
(fleet.MIX: /health, /api/whoami with no dependency, /api/messages on the database, /api/online
on Redis, /health/detailed at a monitoring rate; keep-alive connections):

* a shared dependency restarted (Redis, PgBouncer, PostgreSQL): routes that do not need it lose
  no request; the ones that do fail only while it is away (plus at most 1 s); NGINX takes no
  backend out of rotation;
* every app process of one backend SIGKILLed: no failed request, none slower than 2 s, the app
  serving again within 15 s;
* one backend frozen for 20 s (docker pause): no failed request, none slower than the LB's
  proxy_read_timeout plus 2 s (the bound after which a request is retried elsewhere), the
  backend back in rotation after it thaws;
* one backend's app hung (SIGSTOP): the health check kills and restarts it, no failed request.
The numbers go to the run's summary and build/drills/app_tier.json (conftest.py)."""
import http.client
import json
import subprocess
import time

import pytest

import fleet
from fleet import CHECK, events, load, log_length, report, wait_for

ERROR_LOG = "/var/log/nginx/error.log"
ADDRESS = {"at-app1": "172.30.58.21", "at-app2": "172.30.58.22", "at-app3": "172.30.58.23"}
# The LB's proxy_read_timeout (nginx_lb_proxy_read_timeout): a request on a hung backend waits
# this long before NGINX tries it on another one.
READ_TIMEOUT_S = 5
# Each dependency: its host, its unit, a probe that passes once it serves again, the routes that need it.
DEPENDENCIES = {
    "redis": ("at-cache1", "redis-server", "redis-cli -h 127.0.0.1 ping 2>&1 | grep -qE 'PONG|NOAUTH'",
              {"redis", "monitor"}),
    "pgbouncer": ("at-db1", "pgbouncer", "pg_isready -q -h 127.0.0.1 -p 6432", {"db", "monitor"}),
    "postgresql": ("at-db1", "postgresql", "pg_isready -q -h 127.0.0.1 -p 5432", {"db", "monitor"}),
}
ROUTES = ("health", "plain", "db", "redis", "monitor")


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


def first_served_by(traffic, name, after, timeout):
    """Wall-clock time the LB first sent `name` a request started after `after`, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        served = [r.start for r in list(traffic.records) if r.host == name and r.start > after]
        if served:
            return min(served)
        time.sleep(0.2)
    return None


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_a_dependency_restart_costs_only_the_routes_that_need_it(dependency):
    name, unit, probe, needs = DEPENDENCIES[dependency]
    since = error_log_size()
    with load() as traffic:
        time.sleep(5)
        down = time.time()
        out = fleet.host(name).check_output(
            f"systemctl restart {unit} && until {probe}; do sleep 0.05; done; date +%s.%N")
        back = float(out.split()[-1])
        time.sleep(6)
    failed_in_window = {r: len(traffic.failures(r)) for r in needs}
    summary = report(f"{dependency} restarted", traffic, away_s=round(back - down, 2),
                     failed_on_its_routes=failed_in_window)
    assert summary["requests"] > 500
    for route in ROUTES:
        failures = traffic.failures(route)
        if route not in needs:
            assert failures == [], (route, summary["first_failures"])
        else:
            late = [(round(f.start - down, 2), round(f.end - down, 2), f.kind) for f in failures
                    if not down <= f.end <= back + 1.0]
            assert late == [], (route, f"away {back - down:.2f} s", late[:10])
    assert taken_out_of_rotation(since) == set()


def test_a_crashed_backend_costs_no_request_and_serves_again_within_15s():
    name = "at-app2"
    with load() as traffic:
        time.sleep(4)
        fleet.host(name).run_expect([0], "systemctl kill --signal=SIGKILL koinonia-api")
        killed = time.time()  # SIGKILL is immediate: every process is gone once the command returns
        serving = first_answer(ADDRESS[name], 60)
        in_rotation = first_served_by(traffic, name, killed, 60)
        time.sleep(3)
    assert serving is not None and in_rotation is not None
    summary = report("backend crashed (SIGKILL of PM2 and workers)", traffic,
                     serving_again_s=round(serving - killed, 1), back_in_rotation_s=round(in_rotation - killed, 1))
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["max_ms"] <= 2000, summary["routes"]
    assert serving - killed <= 15


def test_a_frozen_backend_costs_no_idempotent_request():
    name = "at-app3"
    since = error_log_size()
    with load() as traffic:
        time.sleep(4)
        subprocess.run(["docker", "pause", name], check=True)
        try:
            time.sleep(20)
        finally:
            subprocess.run(["docker", "unpause", name], check=True)
        thawed = time.time()
        in_rotation = first_served_by(traffic, name, thawed, 60)
        time.sleep(3)
    assert in_rotation is not None
    summary = report("backend frozen 20 s (docker pause)", traffic, back_in_rotation_after_thaw_s=round(in_rotation - thawed, 1))
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["max_ms"] <= (READ_TIMEOUT_S + 2) * 1000, summary["routes"]
    assert taken_out_of_rotation(since) <= {f"{ADDRESS[name]}:3000"}  # only the frozen one


def test_a_hung_app_is_killed_and_restarted_by_the_health_check():
    name = "at-app1"
    app = fleet.host(name)
    threshold = json.loads(app.check_output("cat /etc/koinonia-health/config.json"))["failure_threshold"]
    start = log_length(app)
    with load() as traffic:
        time.sleep(4)
        hung = time.time()
        app.run_expect([0], "systemctl kill --signal=SIGSTOP koinonia-api")  # accepts, never answers
        for _ in range(threshold):
            app.run(CHECK)
        serving = first_answer(ADDRESS[name], 60)
        time.sleep(3)
    assert serving is not None
    summary = report("app hung (SIGSTOP), health check restarts it", traffic, serving_again_s=round(serving - hung, 1))
    names = [e["event"] for e in events(app, start)]
    assert "app_killed_hung" in names and "app_restarted" in names, names
    assert summary["failed"] == 0, summary["first_failures"]
    assert wait_for(lambda: answers(ADDRESS[name]), 10, 0.5)
