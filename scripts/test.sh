#!/usr/bin/env bash
# make test (what CI runs): lint, unit tests and the collection build, and every molecule scenario.
# The checks need the CPU while app_tier's fleet is created and migrated, which mostly waits on SSH
# and apt; app_tier's idempotence run and drills start only once the checks are done, so nothing
# competes with a drill. The other scenarios follow, one at a time (molecule test).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p build
SCENARIOS=${SCENARIOS:-app_tier standalone data_tier nginx_lb}

step() { echo "=== molecule $1 -s $2"; molecule "$1" -s "$2"; }

make --no-print-directory lint unit build >build/checks.log 2>&1 &
checks=$!
# Cancelled: stop the checks and take app_tier's fleet down.
trap 'kill "$checks" 2>/dev/null; molecule destroy -s app_tier >/dev/null 2>&1; exit 130' INT TERM

rc=0
first=""
case " $SCENARIOS " in
  *" app_tier "*)
    first=app_tier
    for s in destroy syntax create prepare converge; do step "$s" app_tier || { rc=$?; break; }; done ;;
esac

wait "$checks"; checks_rc=$?
echo "=== lint, unit, build (ran alongside app_tier's converge): exit $checks_rc"
cat build/checks.log
if [ "$rc" -eq 0 ] && [ "$checks_rc" -ne 0 ]; then rc=$checks_rc; fi

if [ -n "$first" ]; then
  if [ "$rc" -eq 0 ]; then
    for s in idempotence verify; do step "$s" app_tier || { rc=$?; break; }; done
  fi
  step destroy app_tier || true  # the verdict is the tests'; a failed destroy shows in the output above
fi
[ "$rc" -eq 0 ] || exit "$rc"

for s in $SCENARIOS; do
  [ "$s" = "$first" ] && continue
  echo "=== molecule test -s $s"
  molecule test -s "$s" || exit $?
done
