"""Render make bench's results (build/bench/results.json) as report.md and chart.png.

  python3 scripts/bench/render.py [build/bench]     re-renders from the saved results
"""
import json
import sys
from pathlib import Path

# The targets of issue 14, as ratios on this machine: (label, value getter, comparison, goal).
TARGETS = [
    ("PgBouncer via/direct, pgbench -S, 50 persistent clients", lambda r: r["pgbench"]["persistent"]["ratio"], ">=", 0.8),
    ("PgBouncer via/direct, pgbench -S -C (reconnect each transaction)", lambda r: r["pgbench"]["reconnect"]["ratio"], ">=", 5.0),
    ("LB: p50 added at half capacity (ms)", lambda r: r["health_half"]["added_p50_ms"], "<=", 0.5),
    ("LB via/direct at saturation, GET /health", lambda r: r["health"]["ratio"], ">=", 0.6),
    ("Scale-out factor at 3 backends (same CPU quota each)", lambda r: r["scale"]["factor"], ">=", 2.5),
    ("No-change site.yml / first rollout", lambda r: r["rollout"]["ratio"], "<=", 0.25),
    ("GET /api/messages per backend, straight to one backend (req/s)", lambda r: r["messages"]["direct"]["rps"], ">=", 1500),
]


def _get(fn, results):
    try:
        return fn(results)
    except (KeyError, TypeError):
        return None


def _fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v}{unit}"


def ratio(a, b):
    return round(a / b, 2) if b else None


def _note(x):
    return "" if x["rc"] == 0 else f" (failed: {x['error']})"


def _failed(w):
    return w["non_2xx"] + w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]


def markdown(r):
    m = r["machine"]
    lines = [
        "# koinonia.fleet benchmark (make bench)", "",
        f"Run {r['date']} on {m['cores']} cores and {m['memory_mb']:,} MB of memory (kernel {m['kernel']}), every "
        f"container of the demo fleet on this one machine; {r['seconds_per_measurement']} s per measurement. The "
        "absolute numbers are this machine's; the ratios, measured side by side in this run, are what carries over.", "",
        "Versions: " + ", ".join(f"{k} `{v}`" for k, v in m["versions"].items()), "",
        "## Targets", "", "| target | measured | goal | holds |", "| --- | --- | --- | --- |",
    ]
    for label, fn, op, goal in TARGETS:
        v = _get(fn, r)
        holds = "n/a" if v is None else ("yes" if (v >= goal if op == ">=" else v <= goal) else "**no**")
        lines.append(f"| {label} | {_fmt(v)} | {op} {goal} | {holds} |")
    if "health" in r:
        h, hh, msg = r["health"], r["health_half"], r["messages"]
        lines += ["", "## HTTP (wrk from the load generator container on the fleet network)", "",
                  "| measure | via the LB (TLS, keep-alive) | straight to one backend | ratio |", "| --- | --- | --- | --- |",
                  f"| GET /health, 32 connections: req/s | {_fmt(h['via']['rps'])} | {_fmt(h['direct']['rps'])} | {h['ratio']} |",
                  f"| GET /health, 32 connections: p50 / p99 ms | {h['via']['p50_ms']} / {h['via']['p99_ms']} | "
                  f"{h['direct']['p50_ms']} / {h['direct']['p99_ms']} | |",
                  f"| GET /health at half the LB's capacity ({_fmt(hh['via']['rps'])} req/s via the LB): p50 ms | "
                  f"{hh['via']['p50_ms']} | {hh['direct']['p50_ms']} | +{hh['added_p50_ms']} ms |",
                  f"| GET /api/messages (DB-backed): req/s | {_fmt(msg['via']['rps'])} "
                  f"({_fmt(msg['per_backend_via'])} per backend) | "
                  f"{_fmt(msg['direct']['rps'])} | {ratio(msg['via']['rps'], msg['direct']['rps'])} |",
                  f"| GET /api/messages: p50 / p95 ms | {msg['via']['p50_ms']} / {msg['via']['p95_ms']} | "
                  f"{msg['direct']['p50_ms']} / {msg['direct']['p95_ms']} | |",
                  f"| failed requests (non-2xx, socket errors) | {_failed(h['via']) + _failed(msg['via'])} | "
                  f"{_failed(h['direct']) + _failed(msg['direct'])} | |",
                  "", f"The LB's own CPU: {h['lb_cpu_ms_per_1k']} ms per 1,000 requests (its container's cgroup, "
                  "during the saturating /health run)."]
    if "lb_variants" in r:
        v = r["lb_variants"]
        base = v[0]["rps"] if v else 0
        lines += ["", "## The LB's settings, one at a time (GET /health via the LB, 32 connections)", "",
                  "| variant | req/s | vs as configured | p50 ms | p99 ms | LB CPU ms per 1,000 requests |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {x['variant']} | {_fmt(x['rps'])} | {ratio(x['rps'], base)} | {x['p50_ms']} | {x['p99_ms']} | "
                  f"{x['lb_cpu_ms_per_1k']} |" for x in v]
    if "pgbench" in r:
        p = r["pgbench"]
        lines += ["", "## PostgreSQL through PgBouncer (pgbench -S on the PgBouncer host, loopback)", "",
                  "| measure | via PgBouncer (TPS) | direct to PostgreSQL (TPS) | ratio |", "| --- | --- | --- | --- |"]
        for key, label in (("persistent", "50 persistent clients"), ("reconnect", "50 clients, reconnect each transaction (-C)"),
                           ("reconnect_no_tls", "50 clients, -C, without TLS (PGSSLMODE=disable)"),
                           ("clients_900", "900 clients (PgBouncer's max_client_conn is 1,000; the fleet holds some)")):
            if key not in p:
                continue
            v, d = p[key]["via"], p[key]["direct"]
            lines.append(f"| {label} | {_fmt(v['tps'])}{_note(v)} | {_fmt(d['tps'])}{_note(d)} | {p[key]['ratio']} |")
        for key, label in (("persistent", "50 persistent clients"), ("reconnect", "50 clients, -C")):
            one = p[key].get("via_one_process")
            if one:
                lines.append(f"| {label}, PgBouncer process 1 alone (of {p['processes']}) | {_fmt(one['tps'])} | "
                             f"{_fmt(p[key]['direct']['tps'])} | {ratio(one['tps'], p[key]['direct']['tps'])} |")
        lines += ["", f"PgBouncer runs {p.get('processes', 1)} process(es) on one port (so_reuseport, one per vCPU)."]
        sc = p.get("scram")
        if sc:
            via_c = p["reconnect"]["via"]["tps"]
            lines += ["", f"Where `-C` spends its time: a SCRAM-SHA-256 login costs the client {sc['client_ms_per_login']} ms "
                          f"of CPU ({sc['iterations']:,} PBKDF2 iterations, timed on the PgBouncer host), on every connect, "
                          f"via PgBouncer or not. At {_fmt(via_c)} connects/s via PgBouncer that is "
                          f"{round(via_c * sc['client_ms_per_login'] / 1000, 2)} cores of key derivation alone, on a "
                          f"machine of {r['machine'].get('cores', '?')} cores that also runs PgBouncer and pgbench. PgBouncer "
                          "saves PostgreSQL's backend start, not the connect: each one still costs a TCP connection, the "
                          "SCRAM exchange on both ends and, unless disabled, a TLS handshake (the row without TLS gives its "
                          "share). docs/performance.md lists the options."]
    if "scale" in r:
        s = r["scale"]
        lines += ["", "## Scale-out (GET /api/messages via the LB, every backend at "
                  f"`docker --cpus {s['cpus_per_backend']}`)", "",
                  "| backends | req/s | p50 ms | p95 ms | failed | cores used (per container) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {x['backends']} | {_fmt(x['rps'])} | {x['p50_ms']} | {x['p95_ms']} | {_failed(x)} | "
                  + ", ".join(f"{h} {c}" for h, c in (x.get("cores") or {}).items()) + " |" for x in s["runs"]]
        lines += ["", f"Factor at {s['runs'][-1]['backends']} backends: **{s['factor']}x**."]
    if "replica" in r:
        q = r["replica"]
        lines += ["", "## Reads on the replica vs on the primary, under a write load (POST /api/messages)", "",
                  "| reads from | req/s | p50 ms | p95 ms |", "| --- | --- | --- | --- |",
                  f"| replica (GET /api/messages) | {_fmt(q['replica']['rps'])} | {q['replica']['p50_ms']} | "
                  f"{q['replica']['p95_ms']} |",
                  f"| primary (GET /api/messages?fresh=1) | {_fmt(q['primary']['rps'])} | {q['primary']['p50_ms']} | "
                  f"{q['primary']['p95_ms']} |",
                  "", f"Primary/replica latency: p50 {q['p50_ratio']}x, p95 {q['p95_ratio']}x; the write load meanwhile: "
                  f"{_fmt(q['writes']['rps'])} writes/s, {_failed(q['writes'])} failed." if q.get("writes") else ""]
    if "deploy" in r:
        lines += ["", "## Rolling deploy and rollback under load (tests/loadgen.py through the LB: reads, writes, Redis)", "",
                  "| run | wall time | per backend | requests | failed | keep-alive resets (retried) | p50 ms | p99 ms |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for label, d in r["deploy"].items():
            w = d.get("load") or {}
            lines.append(f"| {label} | {d['seconds']} s | {d['per_backend_s']} s | {w.get('requests', 'n/a')} | "
                         f"{w.get('failed', 'n/a')} {w.get('failures_by_kind') or ''} | {w.get('keepalive_resets', 'n/a')} | "
                         f"{w.get('p50_ms', 'n/a')} | {w.get('p99_ms', 'n/a')} |")
        for label, d in r["deploy"].items():
            lines += ["", f"Slowest tasks of the {label}:", ""] + [f"- {t['seconds']} s {t['task']}" for t in d["top"]]
    if "rollout" in r:
        ro = r["rollout"]
        first = ro["first"]
        lines += ["", "## Rollout speed (playbooks/site.yml)", "",
                  f"- first rollout on a fresh fleet (the last `make demo` that created it, {first['date']}): "
                  f"{first['seconds']} s"
                  if first else "- first rollout: not recorded (run `make demo-down demo` to record one)",
                  f"- no-change rollout in this run: {ro['nochange']['seconds']} s, changed={ro['nochange']['changed']}",
                  f"- ratio: {ro['ratio']}", "", "Slowest tasks of the no-change rollout:", ""]
        lines += [f"- {t['seconds']} s {t['task']}" for t in ro["nochange"]["top"]]
    if "soak" in r:
        so = r["soak"]["samples"]
        if so:
            lines += ["", f"## Soak ({r['soak']['seconds']} s of mixed reads and writes)", "",
                      f"Requests {sum(x['requests'] for x in so):,}, failed {sum(x['failed'] for x in so)}. "
                      "Growth from the first window to the last (a leak shows as a slope):", "",
                      "| measure | first | last |", "| --- | --- | --- |",
                      f"| read p99 ms | {so[0]['read_p99_ms']} | {so[-1]['read_p99_ms']} |",
                      f"| PostgreSQL client connections | {so[0]['pg_connections']} | {so[-1]['pg_connections']} |",
                      f"| PgBouncer waiting clients | {so[0]['pgbouncer_waiting']} | {so[-1]['pgbouncer_waiting']} |"]
            lines += [f"| memory of {c} (MB) | {so[0]['memory_mb'][c]} | {so[-1]['memory_mb'][c]} |" for c in so[0]["memory_mb"]]
    lines += ["", "## Commands", "", "```"] + r.get("commands", []) + ["```", "", "![chart](chart.png)", ""]
    return "\n".join(lines)


def chart(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [k for k in ("health", "pgbench", "scale", "soak") if k in r and (k != "soak" or r["soak"]["samples"])]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5 * max(1, len(panels)), 4))
    axes = axes if hasattr(axes, "__len__") else [axes]
    for ax, k in zip(axes, panels, strict=False):
        if k == "health":
            labels = ["/health", "/api/messages"]
            via = [r["health"]["via"]["rps"], r["messages"]["via"]["rps"]]
            direct = [r["health"]["direct"]["rps"], r["messages"]["direct"]["rps"]]
            x = range(len(labels))
            ax.bar([i - 0.2 for i in x], via, 0.4, label="via the LB")
            ax.bar([i + 0.2 for i in x], direct, 0.4, label="one backend")
            ax.set_xticks(list(x), labels)
            ax.set_ylabel("req/s")
            ax.set_title("HTTP")
        elif k == "pgbench":
            keys = ["persistent", "reconnect", "clients_900"]
            x = range(len(keys))
            ax.bar([i - 0.2 for i in x], [r["pgbench"][c]["via"]["tps"] for c in keys], 0.4, label="via PgBouncer")
            ax.bar([i + 0.2 for i in x], [r["pgbench"][c]["direct"]["tps"] for c in keys], 0.4, label="direct")
            ax.set_xticks(list(x), ["50 clients", "50, -C", "900"])
            ax.set_yscale("log")
            ax.set_ylabel("TPS (log)")
            ax.set_title("pgbench -S")
        elif k == "scale":
            runs = r["scale"]["runs"]
            ax.plot([x["backends"] for x in runs], [x["rps"] for x in runs], marker="o", label="measured")
            ax.plot([x["backends"] for x in runs], [runs[0]["rps"] * x["backends"] for x in runs], ls="--", label="linear")
            ax.set_xlabel("backends")
            ax.set_ylabel("req/s")
            ax.set_title(f"Scale-out, --cpus {r['scale']['cpus_per_backend']} each")
        elif k == "soak":
            so = r["soak"]["samples"]
            ax.plot([x["t"] for x in so], [x["read_p99_ms"] for x in so], label="read p99")
            ax.plot([x["t"] for x in so], [x["write_p99_ms"] for x in so], label="write p99")
            ax.set_xlabel("s")
            ax.set_ylabel("ms")
            ax.set_title("Soak")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write(results, out):
    out = Path(out)
    (out / "report.md").write_text(markdown(results))
    chart(results, out / "chart.png")


if __name__ == "__main__":
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "build/bench")
    write(json.loads((d / "results.json").read_text()), d)
