"""Prometheus and Alertmanager alone: both run on the address given only; every scrape target is
up; the plan's alerts are loaded and pass their unit tests on the host (promtool); a candidate that
fails them is refused; a bad threshold is refused before anything changes; and a stopped target
fires TargetDown, which Alertmanager delivers to a webhook, then resolves. A dry run changes nothing."""
import json
import re
import time

from molecule_helpers import flat, playbook

HOST = "mol-prometheus"
testinfra_hosts = [HOST]

API = "http://127.0.0.1:9090/api/v1"
CHECKER = "/usr/local/lib/koinonia/prometheus-check-rules"
RULES = "/etc/prometheus/rules/koinonia.rules.yml"
RECEIVED = "/var/lib/webhook-receiver/received.jsonl"
# The scenario's hosts and their private addresses (molecule.yml).
ADDRESSES = {"mol-postgresql": "172.30.59.31", "mol-pgbouncer": "172.30.59.32", "mol-redis": "172.30.59.41",
             "mol-prometheus": "172.30.59.50"}
NODE = f"{ADDRESSES[HOST]}:9100"
# The plan's alerts (the PgBouncer ceiling one only with prometheus_alert_pgbouncer_server_ceiling).
ALERTS = {"TargetDown", "ExporterCannotReach", "HighErrorRate", "HighLatencyP95", "DatabasePoolExhausted", "QueueBacklog",
          "HostMemoryHigh", "ReplicaLagHigh", "PgBouncerClientsWaiting"}


def api(host, path):
    return json.loads(host.check_output(f"curl -fsS {API}/{path}"))["data"]


def wait_for(check, seconds, step=1.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


def test_both_run_and_listen_on_the_given_address_only(host):
    for name in ("prometheus", "prometheus-alertmanager"):
        assert host.service(name).is_running and host.service(name).is_enabled
    listening = set(host.socket.get_listening_sockets())
    ours = {sock for sock in listening if sock.rsplit(":", 1)[-1] in ("9090", "9093", "9094")}
    # Loopback only (the scenario's address), and no Alertmanager cluster gossip port (9094).
    assert ours == {"tcp://127.0.0.1:9090", "tcp://127.0.0.1:9093"}, listening


def test_every_scrape_target_is_up(host):
    def up():
        targets = api(host, "targets")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(up, 30)
    assert targets, api(host, "targets")
    # The jobs from fleet_exporters (koinonia.fleet.exporter_scrape_jobs), each host at its own address.
    jobs = {}
    for target in targets:
        jobs.setdefault(target["labels"]["job"], set()).add((target["labels"].get("host"), target["scrapeUrl"]))
    assert jobs == {
        "prometheus": {(None, "http://127.0.0.1:9090/metrics")},
        "alertmanager": {(None, "http://127.0.0.1:9093/metrics")},
        "node": {(h, f"http://{ip}:9100/metrics") for h, ip in ADDRESSES.items()},
        "postgres": {(h, f"http://{ADDRESSES[h]}:9187/metrics") for h in ("mol-postgresql", "mol-pgbouncer")},
        "pgbouncer": {("mol-pgbouncer", f"http://{ADDRESSES['mol-pgbouncer']}:9127/metrics")},
        "redis": {("mol-redis", f"http://{ADDRESSES['mol-redis']}:9121/metrics")},
    }, jobs


def test_the_plans_alerts_are_loaded(host):
    rules = [rule["name"] for group in api(host, "rules")["groups"] for rule in group["rules"]]
    assert set(rules) == ALERTS and len(rules) == len(ALERTS), rules


def test_the_live_rules_pass_their_unit_tests_on_the_host(host):
    out = host.run(f"{CHECKER} {RULES}")
    assert out.rc == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_a_candidate_that_fails_its_unit_tests_is_refused(host):
    """The role's `validate`: a threshold changed in the rules but not in their tests (here by hand)
    fails `promtool test rules`, so the template module never puts such a candidate live."""
    candidate = "/tmp/koinonia.rules.candidate.yml"
    host.run_expect([0], f"sed 's/> 0.01$/> 0.9/' {RULES} > {candidate}")
    assert host.file(candidate).content_string != host.file(RULES).content_string
    out = host.run(f"{CHECKER} {candidate}")
    assert out.rc != 0
    assert "HighErrorRate" in out.stdout + out.stderr


def test_a_bad_threshold_is_refused_before_anything_changes(host):
    before = host.check_output("sha256sum /etc/prometheus/*.yml /etc/prometheus/rules/* /etc/prometheus/rules-tests/*"
                               " /etc/default/prometheus*")
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "-e",
                   json.dumps({"prometheus_alert_rate_window": "0s", "prometheus_alert_memory_ratio": 80}))
    assert run.returncode != 0
    out = flat(run.stdout + run.stderr)
    assert "prometheus_alert_rate_window must be longer than 0" in out, out[-3000:]
    assert "prometheus_alert_memory_ratio (80) must be above 0 and below 1" in out, out[-3000:]
    after = host.check_output("sha256sum /etc/prometheus/*.yml /etc/prometheus/rules/* /etc/prometheus/rules-tests/*"
                              " /etc/default/prometheus*")
    assert after == before


def received(host, start):
    # The receiver creates its file at the first POST: none yet is no delivery, and the waits fail.
    lines = host.check_output(f"cat {RECEIVED} 2>/dev/null || true").splitlines()[start:]
    bodies = []
    for line in lines:
        try:
            bodies.append(json.loads(line)["body"])
        except ValueError:  # a line still being written: read again next time
            break
    return bodies


def delivered(host, start, status):
    return [body for body in received(host, start)
            if body.get("status") == status
            and any(a["labels"].get("alertname") == "TargetDown" and a["labels"].get("instance") == NODE
                    for a in body.get("alerts", []))]


def test_a_stopped_target_fires_target_down_at_the_webhook_then_resolves(host):
    start = len(host.check_output(f"cat {RECEIVED} 2>/dev/null || true").splitlines())
    host.run_expect([0], "systemctl stop prometheus-node-exporter")
    try:
        # Within the rule's window: its for (6 s here), the scrape and evaluation intervals (2 s) and
        # group_wait (1 s), with room for a busy machine.
        firing = wait_for(lambda: delivered(host, start, "firing"), 60)
        assert firing, received(host, start)
        alert = next(a for a in firing[0]["alerts"] if a["labels"]["alertname"] == "TargetDown")
        assert alert["labels"]["instance"] == NODE and alert["labels"]["severity"] == "critical"
        assert alert["labels"]["host"] == HOST
        assert alert["annotations"]["summary"] == f"node on {NODE} does not answer its scrape"
    finally:
        host.run_expect([0], "systemctl start prometheus-node-exporter")
    assert wait_for(lambda: delivered(host, start, "resolved"), 60), received(host, start)


def test_a_dry_run_changes_nothing(host):
    """--check --diff on the converged host (no other scenario runs this role in check mode)."""
    run = playbook("molecule/standalone/converge.yml", "--limit", HOST, "--check", "--diff")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    recap = run.stdout[run.stdout.rindex("PLAY RECAP"):]
    assert re.search(rf"^{HOST}\s+: ok=\d+\s+changed=0\s", recap, re.M), run.stdout[-3000:]
