"""The migration, replayed: from one server (app under PM2 straight on PostgreSQL) to the fleet,
phase by phase over SSH (converge.yml), while clients read and wrote the whole time (prepare.yml
started them at the single server; after phase 2 they followed "DNS" to the load balancer).
Then the clients are stopped and what they saw is counted: no request failed, every row the app
acknowledged is on the primary and on the replica, and every phase ended (each one's gate passed,
or the converge would have failed)."""
import json
import os
import shlex
import signal
import time
from pathlib import Path

import pytest

import fleet
import molecule_helpers

EPH = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY") or Path(molecule_helpers.INVENTORY).parents[1])
SERVER = "http://172.30.58.21:3000"  # the single server, before phase 2
LB = f"https://{fleet.LB}"


def stop_clients():
    summary = EPH / "migration-load.json"
    if not summary.exists():
        pid = int((EPH / "migration-load.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        assert fleet.wait_for(summary.exists, 60), "the migration's clients did not write their summary"
        time.sleep(1)  # the summary is written in one go; let it land
    return json.loads(summary.read_text())


@pytest.fixture(scope="module")
def clients():
    return stop_clients()


def phase_ends():
    """{phase: seconds since the migration started}, from the converge run (the first mark of each)."""
    lines = (EPH / "phases.log").read_text().split("\n")
    start = float(lines[0])
    ends = {}
    for line in lines[1:]:
        if line.strip():
            phase, when = line.split()
            ends.setdefault(int(phase), float(when) - start)
    return ends


def replica_sql(query):
    out = fleet.host("at-db2").check_output(f"su postgres -c {shlex.quote(f'psql -d koinonia -XAt -c {shlex.quote(query)}')}")
    return out.split()


def test_no_request_failed_during_the_migration(clients):
    ends = phase_ends()
    fleet.REPORT["migration, single server to fleet (phases 1-7)"] = {
        **{k: clients[k] for k in ("seconds", "requests", "failed", "failures_by_kind", "keepalive_resets",
                                   "keepalive_closed", "p50_ms", "p99_ms", "max_ms")},
        "routes": {n: {k: r[k] for k in ("requests", "failed", "failures_by_kind", "p99_ms", "max_ms")}
                   for n, r in clients["routes"].items()},
        "targets": clients["targets"],
        "phase_ends_s": {str(p): round(t) for p, t in sorted(ends.items())},
    }
    assert clients["failed"] == 0, clients["first_failures"]
    # The clients were there for the whole migration, first at the server, then at the LB.
    assert clients["targets"].get(SERVER, 0) > 100 and clients["targets"].get(LB, 0) > 500, clients["targets"]
    assert clients["seconds"] > ends[7], (clients["seconds"], ends)


def test_every_phase_ended_in_order():
    ends = phase_ends()
    assert sorted(ends) == list(range(1, 8)), ends
    assert [ends[p] for p in range(1, 8)] == sorted(ends.values()), ends
    walls = {p: round(ends[p] - ends.get(p - 1, 0)) for p in range(1, 8)}
    print(f"migration wall time per phase (s): {walls}; whole migration {round(ends[7])} s")


def test_every_row_written_is_on_the_primary_and_the_replica(clients):
    written = set(clients["written"])
    assert len(written) > 300, len(written)
    run = clients["run_id"]
    primary = {row[0] for row in fleet.sql(f"SELECT id FROM messages WHERE body LIKE '{run} %'")}
    assert written - primary == set(), f"acknowledged writes missing on the primary: {sorted(written - primary)[:20]}"

    def replica_has_all():
        return set(replica_sql(f"SELECT id FROM messages WHERE body LIKE '{run} %'")) >= written

    assert fleet.wait_for(replica_has_all, 30), "acknowledged writes missing on the replica"
    print(f"{len(written)} acknowledged writes: all on the primary and on the replica")
