"""make bench: measure the demo fleet (make demo) and write build/bench/report.md and chart.png.

Every row compares two things measured in the same run, on the same machine, as a ratio: the path
through the load balancer or PgBouncer against the path straight to a backend or PostgreSQL, one
backend against three, reads on the replica against reads on the primary, a no-change rollout
against the first. Numbers are this machine's (shared cores, every container on it); the ratios
are what carries over.

Load generators never go through Docker's userland proxy:
  * HTTP: wrk in a throwaway container on the fleet network (koinonia-bench, at the local
    inventory's fleet_local_bench_ip). The local inventory lets that one address reach the
    backends' app port and exempts it from the LB's rate limits (inventories/local/group_vars/all/local.yml).
  * PostgreSQL: pgbench on the PgBouncer host, over loopback to PgBouncer and to PostgreSQL.
Every run is bounded in time (BENCH_SECONDS per measurement) and aimed at the fleet's containers only.

Knobs (environment): BENCH_SECONDS (8), SOAK (0: no soak; seconds of a mixed load), BENCH_SKIP
(comma-separated sections to leave out: http, lb, pgbench, deploy, replica, scale, rollout).
"""
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from render import ratio, write as render_report  # noqa: E402  (render.py, beside this file)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "bench"
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
SOAK = int(os.environ.get("SOAK", "0"))
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
BENCH = "koinonia-bench"
HOST = "api.koinonia.test"
LUA = "/opt/bench/report.lua"
COMMANDS = []  # every load command of the run, for the report


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, check=True, env=None, capture=True, timeout=None):
    res = subprocess.run(cmd, cwd=ROOT, env=env, text=True, timeout=timeout, check=False,
                         stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if check and res.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:4])} ... failed (rc {res.returncode}):\n{res.stderr[-2000:] if capture else ''}")
    return res


def dexec(container, *args, env=None, check=True, timeout=None):
    """docker exec; env's values go through docker's own environment (-e NAME), never on a command line."""
    cmd = ["docker", "exec"]
    for k in env or {}:
        cmd += ["-e", k]
    return run(cmd + [container, *args], check=check, timeout=timeout, env=dict(os.environ, **env) if env else None)


# ---------------------------------------------------------------- the fleet, from the inventory
def inventory():
    data = json.loads(run(["ansible-inventory", "-i", "inventories/local", "--list"]).stdout)
    hv = data["_meta"]["hostvars"]
    groups = {g: data[g].get("hosts", []) for g in data if isinstance(data[g], dict) and "hosts" in data[g]}

    lbv = hv[groups["loadbalancers"][0]]  # plain values of all/ (ansible-inventory does not template)
    return {
        "hv": hv, "groups": groups,
        "lb": groups["loadbalancers"][0],
        "backends": groups["backends"],
        "pgbouncer": groups["pgbouncer"][0],
        "app_port": int(lbv["fleet_app_port"]),
        "bench_ip": lbv["fleet_local_bench_ip"],
        "network": lbv["fleet_local_network"],
    }


def ip(fleet, host):
    return fleet["hv"][host]["fleet_private_ip"]


def container(fleet, host):
    return fleet["hv"][host]["ansible_host"]


# ---------------------------------------------------------------- tools
def bench_container(fleet):
    """The load generator: the fleet image with wrk, on the fleet network at fleet_local_bench_ip."""
    ok = run(["docker", "container", "inspect", "-f", "{{.State.Running}}", BENCH], check=False)
    if ok.returncode != 0 or ok.stdout.strip() != "true":
        run(["docker", "rm", "-f", BENCH], check=False)
        run(["docker", "run", "-d", "--name", BENCH, "--network", fleet["network"], "--ip", fleet["bench_ip"],
             "--entrypoint", "sleep", "koinonia-fleet/debian12", "infinity"])
    if dexec(BENCH, "sh", "-c", "command -v wrk", check=False).returncode != 0:
        log("installing wrk in the load generator container")
        dexec(BENCH, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null",
              timeout=600)
    dexec(BENCH, "mkdir", "-p", "/opt/bench")
    run(["docker", "cp", str(ROOT / "scripts/bench/report.lua"), f"{BENCH}:{LUA}"])


def wrk(url, conns=32, seconds=None, threads=2, delay_ms=0, method=None, body=None, host=True):
    seconds = seconds or SECONDS
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", LUA]
    if host:
        cmd += ["-H", f"Host: {HOST}"]
    cmd += [url, "--", str(delay_ms)]
    if method:
        cmd += [method, body or ""]
    COMMANDS.append("docker exec koinonia-bench " + shlex.join(cmd))
    out = dexec(BENCH, *cmd, timeout=seconds + 60).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_seconds(name):
    """CPU seconds used so far by a container (its cgroup, v1 or v2)."""
    cid = run(["docker", "inspect", "-f", "{{.Id}}", name]).stdout.strip()
    v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
    if v1.is_file():
        return int(v1.read_text()) / 1e9
    for p in (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat", f"/sys/fs/cgroup/docker/{cid}/cpu.stat"):
        if Path(p).is_file():
            stat = dict(line.split() for line in Path(p).read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
    return None


def memory_mb(name):
    cid = run(["docker", "inspect", "-f", "{{.Id}}", name]).stdout.strip()
    for p in (f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes",
              f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current", f"/sys/fs/cgroup/docker/{cid}/memory.current"):
        if Path(p).is_file():
            return round(int(Path(p).read_text()) / 2**20, 1)
    return None


# ---------------------------------------------------------------- sections
def machine(fleet):
    lb, db, app = container(fleet, fleet["lb"]), container(fleet, fleet["pgbouncer"]), container(fleet, fleet["backends"][0])
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 1024

    def first_line(c, *cmd):
        r = dexec(c, *cmd, check=False)
        return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else "?"
    return {
        "cores": os.cpu_count(), "memory_mb": mem, "kernel": platform.release(),
        "versions": {
            "nginx": first_line(lb, "nginx", "-v"),
            "pgbouncer": first_line(db, "pgbouncer", "--version"),
            "postgresql": first_line(db, "psql", "--version"),
            "node": first_line(app, "sh", "-c", "for n in /opt/node*/bin/node /usr/bin/node; do "
                               "[ -x $n ] && $n --version && break; done"),
            "wrk": first_line(BENCH, "sh", "-c", "wrk -v 2>&1 | head -1"),
            "ansible": run(["ansible", "--version"]).stdout.splitlines()[0],
            "docker": run(["docker", "version", "-f", "{{.Server.Version}}"]).stdout.strip(),
        },
    }


def http(fleet, results):
    lb = f"https://{ip(fleet, fleet['lb'])}:443"
    app = f"http://{ip(fleet, fleet['backends'][0])}:{fleet['app_port']}"
    lbc = container(fleet, fleet["lb"])
    log("GET /health via the LB and straight to one backend")
    before = cpu_seconds(lbc)
    via = wrk(f"{lb}/health")
    lb_cpu = cpu_seconds(lbc) - before if before is not None else None
    direct = wrk(f"{app}/health")
    results["health"] = {"via": via, "direct": direct, "ratio": ratio(via["rps"], direct["rps"]),
                         "lb_cpu_ms_per_1k": round(lb_cpu * 1e6 / via["requests"], 1) if lb_cpu is not None else None}
    # p50 added by the LB at half its capacity: the same paced connections via the LB, and a third of them
    # straight to one backend (the LB spreads its load over the backends).
    n = len(fleet["backends"])
    rate = via["rps"] / 2
    conns = 4 * n
    delay = max(1, int(conns * 1000 / rate))
    log(f"paced at half capacity (~{int(rate)} req/s)")
    paced_via = wrk(f"{lb}/health", conns=conns, delay_ms=delay)
    paced_direct = wrk(f"{app}/health", conns=4, delay_ms=delay)
    results["health_half"] = {"via": paced_via, "direct": paced_direct,
                              "added_p50_ms": round(paced_via["p50_ms"] - paced_direct["p50_ms"], 3)}
    log("GET /api/messages (DB-backed) straight to one backend and via the LB")
    route = "/api/messages?limit=20"
    one = wrk(f"{app}{route}")
    fleet_lb = wrk(f"{lb}{route}")
    results["messages"] = {"direct": one, "via": fleet_lb, "per_backend_via": round(fleet_lb["rps"] / n, 1),
                           "target_per_backend": 1500}


LB_VARIANTS = [
    ("as configured", {}),
    ("worker_processes 1", {"nginx_lb_worker_processes": 1}),
    ("no upstream keep-alive", {"nginx_lb_upstream_keepalive": 0}),
    ("access log buffered (64k, flush 1s)", {"nginx_lb_access_log_buffer": "64k"}),
]


def lb_variants(fleet, results):
    """The LB's settings, one at a time, each applied by phase 2's playbook (the role, nginx -t, a reload):
    /health through the LB at saturation, and the LB's CPU per 1,000 requests."""
    lb = f"https://{ip(fleet, fleet['lb'])}:443"
    lbc = container(fleet, fleet["lb"])
    out = []
    try:
        for label, extra in LB_VARIANTS:
            log(f"LB: {label}")
            if extra:
                run(["ansible-playbook", "playbooks/phase_2_load_balancer.yml", "-e", json.dumps(extra)])
            before = cpu_seconds(lbc)
            r = wrk(f"{lb}/health")
            out.append({"variant": label, "vars": extra, **r,
                        "lb_cpu_ms_per_1k": round((cpu_seconds(lbc) - before) * 1e6 / max(1, r["requests"]), 1)})
    finally:
        run(["ansible-playbook", "playbooks/phase_2_load_balancer.yml"])
    results["lb_variants"] = out


def pg_env(fleet):
    """The app's login, read from a backend's env file (never printed)."""
    app = container(fleet, fleet["backends"][0])
    text = dexec(app, "sh", "-c", "cat /srv/*/shared/.env 2>/dev/null || cat /srv/*/shared/env").stdout
    m = re.search(r"^DATABASE_URL=postgres(?:ql)?://([^:]+):([^@]+)@", text, re.M)
    if not m:
        raise SystemExit("bench: no DATABASE_URL in the backend's env file")
    from urllib.parse import unquote
    return {"PGUSER": unquote(m.group(1)), "PGPASSWORD": unquote(m.group(2)), "PGDATABASE": "koinonia"}


def pgbench(fleet, env, port, clients, extra=(), seconds=None):
    db = container(fleet, fleet["pgbouncer"])
    seconds = seconds or SECONDS
    if port == 5432:
        # PgBouncer holds the server connections its pools opened (the plan gives it nearly every PostgreSQL slot):
        # RECONNECT closes each once it is idle, so direct clients find free slots. The pools open again on demand.
        dexec(db, "pgbouncer-console", "RECONNECT", check=False)
        time.sleep(1)
    cmd = ["/usr/lib/postgresql/15/bin/pgbench", "-h", "127.0.0.1", "-p", str(port), "-n", "-S", "-c", str(clients),
           "-j", "2", "-T", str(seconds), *extra]
    COMMANDS.append(f"docker exec {db} " + shlex.join(cmd))
    r = dexec(db, *cmd, env=env, check=False, timeout=seconds + 120)
    text = r.stdout + r.stderr
    tps = re.search(r"tps = ([\d.]+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    refused = len(re.findall(r"connection to server .* failed|remaining connection slots|too many", text))
    return {"tps": float(tps.group(1)) if tps else 0.0, "failed": int(failed.group(1)) if failed else None,
            "refused": refused, "rc": r.returncode,
            "error": "" if r.returncode == 0 else (text.strip().splitlines() or ["?"])[-1][:200]}


def scram_cost(db):
    """What a SCRAM-SHA-256 login costs the client: the salted password, 4,096 iterations of PBKDF2-HMAC-SHA-256
    (PostgreSQL 15's fixed count), which libpq works out again on every connect. Timed on the PgBouncer host, where
    pgbench runs. PgBouncer checks the proof against the stored verifier with a few HMACs; PostgreSQL forks a backend."""
    code = ("import hashlib, time\n"
            "t = time.perf_counter()\n"
            "for _ in range(200): hashlib.pbkdf2_hmac('sha256', b'password' * 4, b'salt' * 4, 4096)\n"
            "print((time.perf_counter() - t) / 200 * 1000)")
    COMMANDS.append(f"docker exec {db} python3 -c <200 x hashlib.pbkdf2_hmac('sha256', ..., 4096)>")
    ms = float(dexec(db, "python3", "-c", code).stdout.strip())
    return {"client_ms_per_login": round(ms, 2), "iterations": 4096}


def pg(fleet, results):
    env = pg_env(fleet)
    db = container(fleet, fleet["pgbouncer"])
    log("pgbench: initialising its tables (scale 10) in the app database")
    dexec(db, "/usr/lib/postgresql/15/bin/pgbench", "-h", "127.0.0.1", "-p", "5432", "-i", "-q", "-s", "10", env=env,
          timeout=600)
    try:
        out = {}
        plain = dict(env, PGSSLMODE="disable")  # the TLS handshake's share of -C
        for label, extra, clients, e in (("persistent", (), 50, env), ("reconnect", ("-C",), 50, env),
                                         ("reconnect_no_tls", ("-C",), 50, plain), ("clients_900", (), 900, env)):
            log(f"pgbench -S {label}: via PgBouncer and direct")
            out[label] = {"via": pgbench(fleet, e, 6432, clients, extra), "direct": pgbench(fleet, e, 5432, clients, extra)}
            out[label]["ratio"] = ratio(out[label]["via"]["tps"], out[label]["direct"]["tps"])
        # The same through process 1 alone: the further processes (pgbouncer@N) stopped for the measurement.
        extra = dexec(db, "sh", "-c", "systemctl list-units --plain --no-legend --state=running 'pgbouncer@*' | awk '{print $1}'",
                      check=False).stdout.split()
        out["processes"] = 1 + len(extra)
        if extra:
            log(f"pgbench -S: via PgBouncer process 1 alone ({len(extra)} further process(es) stopped meanwhile)")
            dexec(db, "systemctl", "stop", *extra)
            try:
                for label, args, clients in (("persistent", (), 50), ("reconnect", ("-C",), 50)):
                    out[label]["via_one_process"] = pgbench(fleet, env, 6432, clients, args)
            finally:
                dexec(db, "systemctl", "start", *extra)
        out["scram"] = scram_cost(db)
        results["pgbench"] = out
    finally:
        dexec(db, "/usr/lib/postgresql/15/bin/pgbench", "-h", "127.0.0.1", "-p", "5432", "-i", "-I", "d", env=env,
              check=False)


def upstream(change, backend):
    run(["ansible-playbook", "playbooks/upstreams.yml", "-e", f"backend={backend}", "-e", f"change={change}"])


def scale(fleet, results):
    """Every backend gets the same CPU quota (as a droplet has its own vCPUs); 1, 2, 3 backends serve."""
    cpus = os.environ.get("BENCH_BACKEND_CPUS", "0.25")
    lb = f"https://{ip(fleet, fleet['lb'])}:443"
    backends = fleet["backends"]
    names = [container(fleet, b) for b in backends]
    run(["docker", "update", "--cpus", cpus, *names])
    out = []
    try:
        for b in backends[1:]:
            upstream("drain", b)
        for n in range(1, len(backends) + 1):
            if n > 1:
                upstream("enable", backends[n - 1])
                time.sleep(2)
            log(f"scale-out: {n} backend(s) at --cpus {cpus}")
            watch = {h: container(fleet, h) for h in [fleet["lb"], fleet["pgbouncer"], *backends[:n]]}
            before = {h: cpu_seconds(c) for h, c in watch.items()}
            r = wrk(f"{lb}/api/messages?limit=20", conns=32)
            # Cores each container used meanwhile: what limits the throughput (a backend at its quota, or the LB,
            # or PgBouncer and PostgreSQL on their host).
            cores = {h: round((cpu_seconds(c) - before[h]) / r["seconds"], 2) for h, c in watch.items()}
            out.append({"backends": n, **r, "cores": cores})
    finally:
        for b in backends[1:]:
            upstream("enable", b)
        # Docker 20.10 ignores --cpus 0 (it leaves the quota in place): a quota of every core never throttles.
        run(["docker", "update", "--cpus", str(os.cpu_count()), *names])
    results["scale"] = {"cpus_per_backend": float(cpus), "runs": out,
                        "factor": ratio(out[-1]["rps"], out[0]["rps"])}


def replica(fleet, results):
    """Reads on the replica vs on the primary (?fresh=1) while the primary takes a write load."""
    lb = f"https://{ip(fleet, fleet['lb'])}:443"
    log("reads on the replica vs the primary, under a write load")
    writes = {}

    def write_load():
        writes["r"] = wrk(f"{lb}/api/messages", conns=8, seconds=2 * SECONDS + 4, method="POST",
                          body='{"body": "bench write"}')
    t = threading.Thread(target=write_load)
    t.start()
    time.sleep(2)
    on_replica = wrk(f"{lb}/api/messages?limit=20", conns=8, delay_ms=5)
    on_primary = wrk(f"{lb}/api/messages?limit=20&fresh=1", conns=8, delay_ms=5)
    t.join()
    results["replica"] = {"replica": on_replica, "primary": on_primary, "writes": writes.get("r"),
                          "p50_ratio": ratio(on_primary["p50_ms"], on_replica["p50_ms"]),
                          "p95_ratio": ratio(on_primary["p95_ms"], on_replica["p95_ms"])}


def playbook_timed(args, label):
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="10",
               ANSIBLE_FORCE_COLOR="0")
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    r = run(["ansible-playbook", *args], env=env, check=False)
    took = round(time.monotonic() - start, 1)
    (OUT / f"{label}.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise SystemExit(f"bench: {label} failed, see {OUT / (label + '.log')}")
    recap = r.stdout.rsplit("PLAY RECAP", 1)[-1]
    changed = sum(int(n) for n in re.findall(r"\bchanged=(\d+)", recap))
    top = re.findall(r"^(.+?) -+ ([\d.]+)s$", r.stdout.rsplit("=====", 1)[-1], re.M)[:10]
    return {"seconds": took, "changed": changed, "top": [{"task": t.strip(), "seconds": float(s)} for t, s in top]}


def deploy(fleet, results):
    """A rolling deploy and the rollback, each under the drills' mixed keep-alive load (tests/loadgen.py, which
    retries an idempotent request once on a keep-alive connection NGINX closed at a reload, as browsers do, and
    counts it): failed requests, keep-alive resets, latency and the wall time per backend."""
    current = json.loads((ROOT / "examples/app/package.json").read_text())["version"]
    nxt = f"{current}-bench.{int(time.time())}"
    run(["bash", "scripts/build-release.sh", nxt])
    lb = f"https://{ip(fleet, fleet['lb'])}"
    load_cmd = [sys.executable, "tests/loadgen.py", lb, "--host-header", HOST, "--duration", "900",
                "--route", "health GET /health 2 20", "--route", "db GET /api/messages?limit=1 2 10",
                "--route", "write POST /api/messages 1 5", "--route", "redis GET /api/online 1 10"]
    COMMANDS.append(shlex.join(load_cmd[1:]) + " --json FILE")
    out = {}
    try:
        for label, args in (("deploy", ["playbooks/deploy.yml", "-e", f"fleet_app_version={nxt}"]),
                            ("rollback", ["playbooks/rollback.yml", "-e", f"rollback_version={current}"])):
            log(f"{label} under load")
            summary = OUT / f"{label}-load.json"
            load = subprocess.Popen(load_cmd + ["--json", str(summary)], cwd=ROOT, stdout=subprocess.DEVNULL)
            time.sleep(2)
            try:
                res = playbook_timed(args, label)
            finally:
                load.send_signal(2)
                load.wait(timeout=60)
            s = json.loads(summary.read_text())
            res["load"] = {k: s.get(k) for k in ("requests", "failed", "failures_by_kind", "keepalive_resets",
                                                 "p50_ms", "p99_ms", "max_ms")}
            res["per_backend_s"] = round(res["seconds"] / len(fleet["backends"]), 1)
            out[label] = res
    finally:
        (ROOT / f"build/releases/koinonia-api-{nxt}.tar.gz").unlink(missing_ok=True)
    results["deploy"] = out


def rollout(fleet, results):
    log("a no-change site.yml")
    first = ROOT / "build/demo-first-rollout.json"
    results["rollout"] = {"first": json.loads(first.read_text()) if first.is_file() else None,
                          "nochange": playbook_timed(["playbooks/site.yml"], "site-nochange")}
    f = results["rollout"]["first"]
    results["rollout"]["ratio"] = ratio(results["rollout"]["nochange"]["seconds"], f["seconds"]) if f else None


def _soak_writes(res, lb, window):
    res["w"] = wrk(f"{lb}/api/messages", conns=4, seconds=window, delay_ms=20, method="POST", body='{"body": "soak"}')


def soak(fleet, results):
    lb = f"https://{ip(fleet, fleet['lb'])}:443"
    db = container(fleet, fleet["pgbouncer"])
    watch = [container(fleet, h) for h in fleet["backends"]] + [db]
    window = 10
    samples = []
    log(f"soak: {SOAK}s of mixed reads and writes")
    start = time.monotonic()
    while time.monotonic() - start < SOAK:
        res = {}
        t = threading.Thread(target=_soak_writes, args=(res, lb, window))
        t.start()
        reads = wrk(f"{lb}/api/messages?limit=20", conns=16, seconds=window, delay_ms=5)
        t.join()
        conns = dexec(db, "runuser", "-u", "postgres", "--", "psql", "-XtAc",
                      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'", check=False).stdout.strip()
        # Every PgBouncer process's pools (pgbouncer-console: CSV, the process first).
        pools = dexec(db, "pgbouncer-console", "SHOW POOLS", check=False).stdout.splitlines()
        header = pools[0].split(",") if pools else []
        col = header.index("cl_waiting") if "cl_waiting" in header else None
        waiting = sum(int(line.split(",")[col]) for line in pools[1:] if col is not None and line.split(",")[col].isdigit())
        samples.append({
            "t": round(time.monotonic() - start), "read_p99_ms": reads["p99_ms"], "write_p99_ms": res["w"]["p99_ms"],
            "requests": reads["requests"] + res["w"]["requests"],
            "failed": sum(r[k] for r in (reads, res["w"]) for k in ("non_2xx", "connect_errors", "read_errors", "timeouts")),
            "memory_mb": {c: memory_mb(c) for c in watch},
            "pg_connections": int(conns) if conns.isdigit() else None, "pgbouncer_waiting": waiting,
        })
    results["soak"] = {"seconds": SOAK, "samples": samples}


# ---------------------------------------------------------------- report
def main():
    OUT.mkdir(parents=True, exist_ok=True)
    fleet = inventory()
    lbip = ip(fleet, fleet["lb"])
    if run(["curl", "-fsk", "-m", "5", "-H", f"Host: {HOST}", f"https://{lbip}/health"], check=False).returncode != 0:
        raise SystemExit(f"bench: no fleet answers on https://{lbip}/health; run 'make demo' first")
    bench_container(fleet)
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds_per_measurement": SECONDS,
               "machine": machine(fleet)}
    sections = [("http", http), ("lb", lb_variants), ("pgbench", pg), ("deploy", deploy), ("replica", replica),
                ("scale", scale), ("rollout", rollout)]
    if SOAK > 0:
        sections.append(("soak", soak))
    for name, fn in sections:
        if name in SKIP:
            continue
        fn(fleet, results)
        (OUT / "results.json").write_text(json.dumps(results, indent=2))
    results["commands"] = sorted(set(COMMANDS))
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    render_report(results, OUT)
    log(f"report in {OUT / 'report.md'}, chart in {OUT / 'chart.png'}")


if __name__ == "__main__":
    main()
