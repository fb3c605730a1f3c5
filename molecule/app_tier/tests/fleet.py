"""Helpers for the app_tier tests: hosts, playbook runs, load through the LB, SQL, releases, drill reports."""
import http.client
import json
import shlex
import ssl
import subprocess
import tarfile
import time

import loadgen  # the drills' load tool, tests/loadgen.py (shared with `make bench`)
import molecule_helpers
from molecule_helpers import ROOT, node

RELEASES = ROOT / "build" / "releases"
LB = "172.30.58.10"
BACKENDS = ["at-app1", "at-app2", "at-app3"]
# The backends' private addresses: the app listens there only (the LB is the way in).
ADDRESS = {"at-app1": "172.30.58.21", "at-app2": "172.30.58.22", "at-app3": "172.30.58.23"}
BASE = "/srv/koinonia-api"
CURRENT_VERSION = json.loads((ROOT / "examples/app/package.json").read_text())["version"]


host = node  # the tests call hosts host("at-app1")


def playbook(name, *args, timeout=900):
    """Run one of the collection's playbooks (playbooks/NAME) against this fleet; returns the CompletedProcess."""
    return molecule_helpers.playbook(f"playbooks/{name}", *args, timeout=timeout)


def secrets():
    """The demo secrets the inventory generated (.cache/secrets), to look for in outputs."""
    folder = ROOT / ".cache" / "secrets"
    return [p.read_text().split()[0] for p in folder.iterdir() if p.is_file() and p.read_text().strip()]


def sql(query):
    """Run SQL on the primary as postgres; rows as lists of strings."""
    out = host("at-db1").check_output(f"su postgres -c {shlex.quote(f'psql -d koinonia -AtF, -c {shlex.quote(query)}')}")
    return [line.split(",") for line in out.splitlines() if line]


def redis_cli(command):
    """redis-cli on the cache host, authenticated with the inventory's password; its output."""
    password = (ROOT / ".cache/secrets/redis_password").read_text().split()[0]
    return host("at-cache1").check_output(f"REDISCLI_AUTH={password} redis-cli --raw {command}")


def get(path, timeout=10):
    """GET through the load balancer over HTTPS (new connection): (status, JSON or None)."""
    conn = http.client.HTTPSConnection(LB, 443, timeout=timeout, context=ssl._create_unverified_context())
    try:
        conn.request("GET", path, headers={"Host": "api.koinonia.test", "Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        try:
            return resp.status, json.loads(body)
        except ValueError:
            return resp.status, None
    finally:
        conn.close()


def hosts_seen(path="/api/whoami", count=30, gap=0.05):
    """The backends that answered `count` requests, paced under the LB's API rate limit
    (100 r/s, burst 20, per client address), which would otherwise answer 429."""
    seen = set()
    for _ in range(count):
        status, body = get(path)
        assert status == 200, (status, body)
        seen.add(body["host"])
        time.sleep(gap)
    return seen



# A mixed load through the LB: a route that needs nothing, one that needs the database, one
# that needs Redis, and /health/detailed at a monitoring rate. The rate-limited routes stay
# under the LB's API limit for one client address (100 r/s, burst 20).
MIX = [
    "health GET /health 2 20",
    "plain GET /api/whoami 2 15",
    "db GET /api/messages?limit=1 2 10",
    "redis GET /api/online 2 10",
    "monitor GET /health/detailed 1 4",
]
# The same with a writer (POST /api/messages): a POST is never retried by NGINX once sent, so
# this mix goes where no backend dies under a request (dependency restarts, deploys).
MIX_WITH_WRITES = MIX + ["write POST /api/messages 1 4"]


def load(routes=None, duration=300, **kwargs):
    """A bounded load through the LB (keep-alive connections); use as `with load() as run:`."""
    return loadgen.Load(f"https://{LB}", routes or MIX, duration=duration, host_header="api.koinonia.test",
                        **kwargs)


# Each drill's numbers, printed at the end of the run and written to build/drills/ (conftest.py).
REPORT = {}


def lost_writes(run):
    """Writes the app acknowledged (201 with an id) that are not on the primary, and the rows
    this run wrote (a write that timed out may still have been committed)."""
    if not run.written:
        return [], 0
    present = {row[0] for row in sql(f"SELECT id FROM messages WHERE body LIKE '{run.run_id} %'")}
    return sorted(set(run.written) - present, key=int), len(present)


def report(name, run, **extra):
    summary = run.summary(first_failures=10)
    if run.written:
        lost, rows = lost_writes(run)
        extra = {"writes_acknowledged": len(run.written), "rows_written": rows, "lost_writes": len(lost), **extra}
        summary["lost_writes"] = lost
    REPORT[name] = {**{k: summary[k] for k in ("seconds", "requests", "failed", "failures_by_kind",
                                                "keepalive_resets", "keepalive_closed", "p50_ms", "p99_ms", "max_ms")},
                    "routes": {n: {k: r[k] for k in ("requests", "failed", "failures_by_kind", "p99_ms", "max_ms")}
                               for n, r in summary["routes"].items()},
                    **extra}
    return summary


def build_release(version, broken=False):
    """A release artifact built on the controller (scripts/build-release.sh). A broken one exits at
    boot, as a release with a bad dependency or config would."""
    out = RELEASES / f"koinonia-api-{version}.tar.gz"
    if not broken:
        subprocess.run(["bash", str(ROOT / "scripts/build-release.sh"), version], check=True, capture_output=True)
        return out
    good = build_release(CURRENT_VERSION)
    stage = RELEASES / f".stage-{version}"
    subprocess.run(["rm", "-rf", str(stage)], check=True)
    stage.mkdir()
    with tarfile.open(good) as tar:
        tar.extractall(stage, filter="tar")
    (stage / "RELEASE").write_text(version + "\n")
    server = stage / "server.js"
    server.write_text("'use strict';\nthrow new Error('broken release: missing configuration');\n" + server.read_text())
    with tarfile.open(out, "w:gz") as tar:
        for item in sorted(stage.iterdir()):
            tar.add(item, arcname=item.name)
    subprocess.run(["rm", "-rf", str(stage)], check=True)
    return out


def backend_version(name):
    """The version the app on a backend reports, straight from the backend."""
    return json.loads(host(name).check_output(f"curl -fsS -m 5 http://{ADDRESS[name]}:3000/health"))["version"]


# The health check (health_cron) and its log.
def pgbouncer_units(host="at-db1"):
    """PgBouncer's units on its host, space-separated: pgbouncer (process 1) and pgbouncer@N (pgbouncer_processes).
    Stopping or restarting PgBouncer means all of them: the others serve the port alone."""
    out = node(host).check_output(
        "systemctl list-units --plain --no-legend --state=running 'pgbouncer.service' 'pgbouncer@*.service'")
    return " ".join(line.split()[0] for line in out.splitlines())


CHECK = "/usr/local/bin/koinonia-health-check"
HEALTH_LOG = "/var/log/koinonia-health/health-check.log"


def events(host, since=0):
    lines = host.file(HEALTH_LOG).content_string.splitlines()[since:]
    return [json.loads(line) for line in lines]


def log_length(host):
    return len(host.file(HEALTH_LOG).content_string.splitlines()) if host.file(HEALTH_LOG).exists else 0


def poll(fetch, timeout, interval=1.0):
    """fetch() until it answers something true; that answer, or its last one after timeout s."""
    end = time.monotonic() + timeout
    while True:
        value = fetch()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def wait_for(predicate, timeout, interval=1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
