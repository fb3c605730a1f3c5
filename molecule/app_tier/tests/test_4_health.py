"""health_cron: a killed app is back within 60 s and the health check logs it; a stopped app is
restarted by the health check; a database outage gives exactly one alert and one recovery
notice at the webhook, across the three backends."""
import json
import time

import fleet
from fleet import BACKENDS, CHECK, events, log_length, wait_for

RECEIVED = "/var/lib/webhook-receiver/received.jsonl"


def received(since=0):
    receiver = fleet.host("at-cache1")
    if not receiver.file(RECEIVED).exists:
        return []
    # The health check's alerts (/hook); Alertmanager's come to /alertmanager.
    entries = [json.loads(line) for line in receiver.file(RECEIVED).content_string.splitlines()]
    return [entry["body"] for entry in entries if entry["path"] == "/hook"][since:]


def serving(name):
    return fleet.host(name).run(f"curl -fsS -m 3 http://{fleet.ADDRESS[name]}:3000/health").rc == 0


def test_cron_runs_the_health_check_every_minute():
    app = fleet.host("at-app1")
    assert "koinonia-health-check" in app.file("/etc/cron.d/koinonia-health").content_string
    start = log_length(app)
    assert wait_for(lambda: any(e["event"] in ("health_ok", "health_failed") for e in events(app, start)), 75, 5)


def test_killed_app_serves_again_within_60s_and_the_check_logs_it():
    app = fleet.host("at-app2")
    app.check_output(CHECK)  # a baseline run records the unit's main PID
    start = log_length(app)
    app.run_expect([0], "systemctl kill --signal=SIGKILL koinonia-api")
    began = time.monotonic()
    assert wait_for(lambda: serving("at-app2"), 60, 1)
    assert time.monotonic() - began < 60
    app.run(CHECK)
    assert "app_restarted_by_systemd" in [e["event"] for e in events(app, start)]


def test_stopped_app_is_restarted_by_the_health_check():
    app = fleet.host("at-app3")
    threshold = json.loads(app.check_output("cat /etc/koinonia-health/config.json"))["failure_threshold"]
    seen = len(received())
    start = log_length(app)
    app.run_expect([0], "systemctl stop koinonia-api")
    for _ in range(threshold):
        app.run(CHECK)
    assert wait_for(lambda: serving("at-app3"), 60, 1)
    names = [e["event"] for e in events(app, start)]
    assert "app_restarted" in names and "health_failed" in names
    app.run(CHECK)
    notices = [(b["check"], b["status"], b["host"]) for b in received(seen)]
    assert ("app", "alert", "at-app3") in notices
    assert ("app", "recovery", "at-app3") in notices


def test_database_outage_gives_one_alert_and_one_recovery():
    apps = [fleet.host(name) for name in BACKENDS]
    db = fleet.host("at-db1")
    seen = len(received())
    units = fleet.pgbouncer_units()  # every PgBouncer process: the others would serve the port alone
    db.run_expect([0], f"systemctl stop {units}")
    try:
        for _ in range(2):  # each backend sees it twice (and cron may run it too)
            for app in apps:
                app.run(CHECK)
    finally:
        db.run_expect([0], f"systemctl start {units}")
    assert wait_for(lambda: fleet.get("/health/detailed")[0] == 200, 30, 1)
    for _ in range(2):
        for app in apps:
            app.run(CHECK)
    database = [(b["status"], b["check"]) for b in received(seen) if b["check"] == "database"]
    assert database == [("alert", "database"), ("recovery", "database")], received(seen)
    assert all("text" in b for b in received(seen))  # Slack-compatible


def test_a_frozen_backend_neither_owns_nor_blocks_the_database_incident():
    """The backend that opened the incident freezes (its checks stop): the others keep the
    incident open while they fail, none posts a second alert, and once the frozen backend's
    report is stale (aged in Redis rather than waited for) another backend posts the recovery."""
    apps = {name: fleet.host(name) for name in BACKENDS}
    db = fleet.host("at-db1")
    failing = "koinonia:failing:koinonia-api:database"
    seen = len(received())
    units = fleet.pgbouncer_units()  # every PgBouncer process: the others would serve the port alone
    db.run_expect([0], f"systemctl stop {units}")
    frozen = None
    try:
        apps["at-app1"].run(CHECK)
        alerts = [b for b in received(seen) if b["check"] == "database"]
        assert [b["status"] for b in alerts] == ["alert"], alerts
        frozen = alerts[0]["host"]  # at-app1, or a backend whose cron run came first
        apps[frozen].run_expect([0], "touch /var/lib/koinonia-health/pause")
        for name, app in apps.items():
            if name != frozen:
                app.run(CHECK)
    finally:
        db.run_expect([0], f"systemctl start {units}")
    try:
        assert wait_for(lambda: fleet.get("/health/detailed")[0] == 200, 30, 1)
        others = [name for name in BACKENDS if name != frozen]
        for name in others:
            apps[name].run(CHECK)
        database = [(b["status"], b["host"]) for b in received(seen) if b["check"] == "database"]
        assert database == [("alert", frozen)], database  # the frozen backend still reports failing
        assert fleet.redis_cli(f"ZSCORE {failing} {frozen}") != ""
        fleet.redis_cli(f"ZADD {failing} XX {int(time.time()) - 3600} {frozen}")  # its report goes stale
        apps[others[0]].run(CHECK)
        database = [(b["status"], b["host"]) for b in received(seen) if b["check"] == "database"]
        # the recovery comes from whichever healthy backend ran first (this run, or the other's cron)
        assert [d[0] for d in database] == ["alert", "recovery"] and database[1][1] in others, database
    finally:
        if frozen:
            apps[frozen].run_expect([0], "rm -f /var/lib/koinonia-health/pause")
    apps[frozen].run(CHECK)  # back: healthy, nothing more to say
    assert [b["status"] for b in received(seen) if b["check"] == "database"] == ["alert", "recovery"]
