#!/usr/bin/env bash
# make bench: measure the demo fleet (bring it up with `make demo` first) through its load
# balancer on 127.0.0.1 with wrk, bounded in time and connections. Numbers are this machine's;
# the tests assert behaviour (zero failed requests), this script reports speed.
#   1. steady state: GET /health (not rate limited) over keepalive connections;
#   2. a rolling deploy of a new release (playbooks/deploy.yml) under the drills' mixed keep-alive
#      load (tests/loadgen.py): failed requests, keep-alive resets, latency and the deploy's wall time;
#   3. the rollback (playbooks/rollback.yml) under the same load.
# Report: build/benchmark.txt. Knobs: BENCH_SECONDS (20), BENCH_CONNECTIONS (32).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-20}
conns=${BENCH_CONNECTIONS:-32}
# The LB's published port and its address on the fleet network, from the inventory.
read -r port lb_ip < <(ansible-inventory -i inventories/local --host lb1 |
  python3 -c 'import json,sys; h=json.load(sys.stdin); print(h["fleet_local_lb_tls_port"], h["fleet_private_ip"])')
url="https://127.0.0.1:$port/health"
report=build/benchmark.txt
mkdir -p build

command -v wrk >/dev/null || { echo "bench: installing wrk" >&2; apt-get install -y -qq wrk >/dev/null; }
curl -fsSk -m 5 "$url" >/dev/null || { echo "bench: no fleet answers on $url; run 'make demo' first" >&2; exit 1; }

current=$(python3 -c 'import json; print(json.load(open("examples/app/package.json"))["version"])')
next="$current-bench.$(date +%s)"
bash scripts/build-release.sh "$next" >/dev/null

# The drills' load tool (tests/loadgen.py) for as long as a command runs: the mixed keep-alive
# load of the app_tier drills, aimed at the LB's address on the fleet network (no userland proxy).
under_load() {
  local label=$1; shift
  local log="build/bench-$label.log" summary="build/bench-$label.json"
  python3 tests/loadgen.py "https://$lb_ip" --host-header api.koinonia.test --duration 900 --json "$summary" \
    --route 'health GET /health 2 20' --route 'plain GET /api/whoami 2 15' \
    --route 'db GET /api/messages?limit=1 2 10' --route 'redis GET /api/online 2 10' \
    --route 'monitor GET /health/detailed 1 4' &
  local load_pid=$!
  local start=$SECONDS
  "$@" > "$log" 2>&1 || { kill -INT "$load_pid"; echo "bench: $label failed, see $log" >&2; exit 1; }
  local took=$((SECONDS - start))
  kill -INT "$load_pid"
  wait "$load_pid" || echo "bench: $label had failed requests (counted below and in $summary)" >&2
  {
    echo "== $label under the drills' mixed keep-alive load: took ${took}s"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(f"  requests {s[\"requests\"]}, failed {s[\"failed\"]} {s[\"failures_by_kind\"]}, keep-alive resets retried {s[\"keepalive_resets\"]}, p50 {s[\"p50_ms\"]} ms, p99 {s[\"p99_ms\"]} ms, max {s[\"max_ms\"]} ms")' "$summary"
  } | tee -a "$report"
}

: > "$report"
echo "bench: $(date -u +%FT%TZ), $(nproc) cores, fleet on 127.0.0.1:$port" | tee -a "$report"
echo "== steady state: GET /health, $conns keepalive connections, ${seconds}s" | tee -a "$report"
wrk -t2 -c"$conns" -d"${seconds}s" --latency "$url" | grep -E 'requests in|Requests/sec|Socket errors|Non-2xx|50%|90%|99%' | tee -a "$report"
under_load deploy ansible-playbook playbooks/deploy.yml -e "fleet_app_version=$next"
under_load rollback ansible-playbook playbooks/rollback.yml -e "rollback_version=$current"
rm -f "build/releases/koinonia-api-$next.tar.gz"
echo "bench: report in $report"
