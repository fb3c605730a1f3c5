"""Phase 7 on the migrated fleet: Prometheus on at-mon1 scrapes every exporter of the inventory and
every PM2 worker of the app (each host at its private address, through the firewall); the app's
request counts, latency and pools are measured; the replica's replay lag is measured on the
primary; and stopping one backend's app fires TargetDown, which Alertmanager delivers to the
webhook receiver on at-cache1, then resolves once the app is back."""
import json
import time
import urllib.parse

import fleet
from fleet import poll, wait_for

MON = "at-mon1"
API = "http://127.0.0.1:9090/api/v1"
RECEIVED = "/var/lib/webhook-receiver/received.jsonl"
# Which hosts each exporter runs on (inventories/local/group_vars/all/monitoring.yml).
EXPECTED = {
    "node": {"at-lb1", "at-app1", "at-app2", "at-app3", "at-db1", "at-db2", "at-cache1", "at-mon1"},
    "nginx": {"at-lb1"},
    "postgres": {"at-db1", "at-db2"},
    "pgbouncer": {"at-db1"},
    "redis": {"at-cache1"},
    "app": set(fleet.BACKENDS),
}


def api(path):
    return json.loads(fleet.host(MON).check_output(f"curl -fsS '{API}/{path}'"))["data"]


def query(promql):
    return api("query?query=" + urllib.parse.quote(promql))["result"]


def workers(name):
    return int(fleet.host(name).check_output("nproc"))


def test_every_exporter_and_app_worker_of_the_inventory_is_scraped_and_up():
    def all_up():
        targets = [t for t in api("targets?state=active")["activeTargets"] if t["labels"]["job"] in EXPECTED]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = poll(all_up, 60, 2)
    assert targets, [t for t in api("targets?state=active")["activeTargets"] if t["health"] != "up"]
    seen = {}
    for target in targets:
        seen.setdefault(target["labels"]["job"], set()).add(target["labels"]["host"])
    assert seen == EXPECTED
    # One target per PM2 worker, on consecutive ports from 9464.
    app = sorted(t["scrapeUrl"] for t in targets if t["labels"]["job"] == "app")
    assert app == sorted(f"http://{fleet.ADDRESS[b]}:{9464 + i}/metrics" for b in fleet.BACKENDS for i in range(workers(b)))


def test_the_exporters_reach_what_they_watch():
    for metric, hosts in (("pg_up", {"at-db1", "at-db2"}), ("pgbouncer_up", {"at-db1"}), ("redis_up", {"at-cache1"}),
                          ("nginx_up", {"at-lb1"})):
        result = query(metric)
        assert {r["metric"]["host"] for r in result if r["value"][1] == "1"} == hosts, (metric, result)


def counted():
    result = query('sum(koinonia_http_requests_total{method="GET", route="/api/messages", status="200"})')
    return int(float(result[0]["value"][1])) if result else 0


def settled():
    """The count once every worker has been scraped since the last request (the same across a
    whole scrape interval, 5 s here)."""
    previous = counted()
    while True:
        time.sleep(6)
        now = counted()
        if now == previous:
            return now
        previous = now


def test_the_apps_requests_latency_and_pools_are_measured():
    before = settled()
    # Paced under the LB's rate limit (100 r/s); any 429 is the LB's and never reaches the app.
    statuses = []
    for _ in range(50):
        statuses.append(fleet.get("/api/messages?limit=1")[0])
        time.sleep(0.02)
    answered = statuses.count(200)
    assert answered >= 45 and set(statuses) <= {200, 429}, statuses
    # Every worker's counter, once each has been scraped again: exactly the requests the app answered.
    assert wait_for(lambda: settled() - before == answered, 60, 1), (before, answered, counted())
    p95 = query('histogram_quantile(0.95, sum by (le) (rate(koinonia_http_request_duration_seconds_bucket'
                '{route="/api/messages"}[1m])))')
    assert p95 and 0 < float(p95[0]["value"][1]) < 5, p95
    pools = query("koinonia_db_pool_waiting")
    assert {(r["metric"]["host"], r["metric"]["pool"]) for r in pools} >= {(b, "primary") for b in fleet.BACKENDS}


def test_the_replicas_replay_lag_is_measured_on_the_primary():
    # pg_stat_replication on at-db1: one row per streaming replica (0 s while no WAL flows).
    result = poll(lambda: query("koinonia_replica_replay_lag_seconds"), 30, 2)
    assert [r["metric"]["host"] for r in result] == ["at-db1"], result
    assert float(result[0]["value"][1]) < 5, result


def delivered(start, status, host):
    # The receiver creates its file at the first POST: no file yet is no delivery, and the waits fail.
    lines = fleet.host("at-cache1").check_output(f"cat {RECEIVED} 2>/dev/null || true").splitlines()[start:]
    alerts = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:  # being written: read again next time
            break
        if entry["path"] == "/alertmanager" and entry["body"].get("status") == status:
            alerts += [a for a in entry["body"]["alerts"] if a["labels"]["alertname"] == "TargetDown"
                       and a["labels"].get("host") == host and a["labels"].get("job") == "app"]
    return alerts


def test_a_stopped_backend_app_fires_target_down_at_the_webhook_then_resolves():
    receiver = fleet.host("at-cache1")
    start = len(receiver.check_output(f"cat {RECEIVED} 2>/dev/null || true").splitlines())
    app = fleet.host("at-app2")
    app.run_expect([0], "systemctl stop koinonia-api")
    try:
        # Its for (10 s here), the scrape and evaluation intervals (5 s) and group_wait, with room.
        firing = poll(lambda: delivered(start, "firing", "at-app2"), 90, 2)
        assert firing, receiver.check_output(f"tail -n 5 {RECEIVED}")
        assert {a["labels"]["instance"] for a in firing} <= {
            f"{fleet.ADDRESS['at-app2']}:{9464 + i}" for i in range(workers("at-app2"))}
    finally:
        app.run_expect([0], "systemctl start koinonia-api")
    assert wait_for(lambda: delivered(start, "resolved", "at-app2"), 90, 2)
