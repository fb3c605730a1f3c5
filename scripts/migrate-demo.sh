#!/usr/bin/env bash
# make migrate-demo: the scaling plan's migration, replayed and left running. Seven containers
# reached over SSH as deploy with sudo; one of them is the plan's starting point (the app under
# PM2 straight on PostgreSQL, Redis beside it) serving clients that read and write; then the
# phase playbooks run in order, each ending in its gate, while the clients keep going (they move
# to the load balancer after phase 2, as DNS would). Then the migration's own test counts what
# the clients saw: failed requests (0 is the requirement), rows lost, wall time per phase.
# This is molecule/app_tier without its drills; 'make migrate-demo-down' removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in destroy create prepare converge; do
  molecule "$step" -s app_tier
done
KOINONIA_TEST_FILES=test_0_migration.py molecule verify -s app_tier
echo "migrate-demo: the fleet is up (the LB at https://172.30.58.10/, name api.koinonia.test, the"
echo "migrate-demo: temporary self-signed certificate); numbers in build/drills/app_tier.json."
echo "migrate-demo: 'make migrate-demo-down' removes it."
