"""Print every drill's numbers at the end of the run, and keep them in build/drills/app_tier.json.
KOINONIA_TEST_FILES (space-separated file names) runs only those files: `make migrate-demo` runs
test_0_migration.py, the migration's own count, on the fleet it leaves running."""
import json
import os

import fleet


def pytest_collection_modifyitems(config, items):
    only = os.environ.get("KOINONIA_TEST_FILES", "").split()
    if not only:
        return
    keep = [item for item in items if item.path.name in only]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def pytest_terminal_summary(terminalreporter):
    if not fleet.REPORT:
        return
    out = fleet.ROOT / "build" / "drills"
    out.mkdir(parents=True, exist_ok=True)
    (out / "app_tier.json").write_text(json.dumps(fleet.REPORT, indent=2) + "\n")
    write = terminalreporter.write_line
    terminalreporter.section("drills under load through the LB")
    write(f"{'drill':<44} {'requests':>8} {'failed':>6} {'ka-closed':>9} {'ka-reset':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  other")
    for name, r in fleet.REPORT.items():
        other = {k: v for k, v in r.items() if k not in ("seconds", "requests", "failed", "failures_by_kind",
                                                          "keepalive_resets", "keepalive_closed", "p50_ms", "p99_ms", "max_ms",
                                                          "routes")}
        kinds = f" failures: {r['failures_by_kind']}" if r["failures_by_kind"] else ""
        write(f"{name:<44} {r['requests']:>8} {r['failed']:>6} {r['keepalive_closed']:>9} {r['keepalive_resets']:>8} "
              f"{r['p50_ms']:>7} "
              f"{r['p99_ms']:>7} {r['max_ms']:>7}  {json.dumps(other)}{kinds}")
    write(f"(all numbers: {out / 'app_tier.json'})")
