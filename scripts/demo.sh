#!/usr/bin/env bash
# make demo: bring up the local container fleet, roll the stack out with
# playbooks/site.yml, and prove it end to end (playbooks/verify.yml).
# Run it twice: the second rollout changes nothing and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
log=build/demo-site.log
mkdir -p build

# A fresh fleet (no containers yet): its rollout's wall time is what make bench compares a
# no-change rollout with (build/demo-first-rollout.json).
fresh=false
docker container inspect koinonia-lb1 >/dev/null 2>&1 || fresh=true
ansible-playbook playbooks/local_fleet.yml
start=$(date +%s.%N)
ansible-playbook playbooks/site.yml | tee "$log"
took=$(python3 -c "import sys; print(round($(date +%s.%N) - $start, 1))")
# The sum of changed= over the hosts of the run's PLAY RECAP.
changed=$(python3 - "$log" <<'PY'
import re
import sys
text = re.sub(r'\x1b\[[0-9;]*m', '', open(sys.argv[1], encoding='utf-8').read())
recap = text.rsplit('PLAY RECAP', 1)[-1]
print(sum(int(n) for n in re.findall(r'\bchanged=(\d+)', recap)))
PY
)
if [ "$fresh" = true ]; then
  printf '{"seconds": %s, "changed": %s, "date": "%s"}\n' "$took" "$changed" "$(date -u +%FT%TZ)" > build/demo-first-rollout.json
fi
echo "demo: site.yml took ${took}s"
ansible-playbook playbooks/verify.yml

if [ "$changed" -eq 0 ]; then
  echo "demo: the rollout changed nothing (changed=0 on every host): the fleet was already converged."
else
  echo "demo: the rollout made $changed change(s); run 'make demo' again and it will change nothing."
fi
tls_port=$(ansible-inventory --host lb1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["fleet_local_lb_tls_port"])')
echo "demo: the load balancer answers on https://127.0.0.1:$tls_port/ (self-signed: curl -k https://127.0.0.1:$tls_port/api/whoami); 'make demo-down' removes the fleet."
