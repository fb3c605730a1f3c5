#!/usr/bin/env bash
# Build the collection artifact and check what it holds: roles, playbooks and
# plugins in; tests, molecule scenarios, venvs and build output out.
set -euo pipefail
out=build/collection
rm -rf "$out" && mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" >/dev/null
tarball=$(ls "$out"/koinonia-fleet-*.tar.gz)
listing=$(tar -tzf "$tarball")
fail=0
for want in MANIFEST.json roles/pgbouncer/tasks/main.yml roles/nginx_lb/meta/argument_specs.yml \
            playbooks/site.yml plugins/filter/pool_plan.py meta/runtime.yml; do
  grep -qx "$want" <<<"$listing" || { echo "check-build: missing $want" >&2; fail=1; }
done
for bad in '^tests/' '^molecule/' '^\.venv/' '^\.collections/' '^build/' '^\.ci/' 'node_modules/'; do
  if grep -qE "$bad" <<<"$listing"; then echo "check-build: $bad must not be in the artifact" >&2; fail=1; fi
done
[ "$fail" -eq 0 ] || exit 1
echo "check-build: $tarball ($(wc -l <<<"$listing") entries, $(du -h "$tarball" | cut -f1))"
