#!/usr/bin/env bash
# promtool from Debian's prometheus package (the version the monitoring host runs), unpacked
# once into .cache/tools without installing anything: `scripts/promtool.sh test rules FILE...`.
# make unit uses it to check and unit-test the alert rules of roles/prometheus on the controller.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/tools/prometheus
if [ ! -x "$dir/usr/bin/promtool" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # A fresh machine may have no package lists yet: update them once and try again.
  (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 \
                  || { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; }) || {
    echo "promtool.sh: apt-get download prometheus failed (Debian's apt sources are needed)" >&2
    exit 1
  }
  mkdir -p "$dir"
  dpkg -x "$tmp"/prometheus_*.deb "$dir"
  rm -rf "$tmp"  # exec below ends the shell without running the trap
  trap - EXIT
fi
exec "$dir/usr/bin/promtool" "$@"
