#!/usr/bin/env bash
# Build a release artifact once, on the controller; the backends never run npm:
#   scripts/build-release.sh [VERSION]     the app (VERSION defaults to examples/app/package.json's)
#   -> build/releases/koinonia-api-<VERSION>.tar.gz, whose top level is the app itself
#      (server.js, package.json, package-lock.json, node_modules/, RELEASE, ...).
#   RELEASE_SOURCE=runtime/pm2 RELEASE_NAME=pm2 scripts/build-release.sh
#   -> build/releases/pm2-<VERSION>.tar.gz: PM2 and its dependencies (node_modules/pm2/bin/pm2).
# The tarball is reused while it is newer than every file of examples/app (node_modules aside),
# and is reproducible: the same sources give the same checksum.
# Progress goes to stderr; the last line on stdout is the artifact's absolute path.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP="$ROOT/${RELEASE_SOURCE:-examples/app}"
NAME=${RELEASE_NAME:-koinonia-api}
OUT_DIR="$ROOT/build/releases"

log() { printf 'build-release: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for f in package.json package-lock.json; do
  [ -f "$APP/$f" ] || die "$APP/$f is missing"
done

# The top-level "version" is the first one in package.json (no node needed to read it).
VERSION=${1:-$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$APP/package.json" | head -n 1)}
[[ "$VERSION" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "bad version '${VERSION}'"
OUT="$OUT_DIR/$NAME-$VERSION.tar.gz"

if [ -f "$OUT" ] && [ -z "$(find "$APP" -path "$APP/node_modules" -prune -o -newer "$OUT" -print -quit)" ]; then
  log "$OUT is up to date; reusing it"
  echo "$OUT"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "npm is missing; install it (apt-get install -y nodejs npm) or run as root"
  log "installing nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/$NAME-release.XXXXXX")
trap 'rm -rf "$stage" "$OUT.tmp"' EXIT
mkdir "$stage/app"

log "staging ${APP#"$ROOT"/} (version $VERSION)"
tar -C "$APP" --exclude=./node_modules --exclude=./.env --exclude='*.log' -cf - . | tar -C "$stage/app" -xf -
printf '%s\n' "$VERSION" > "$stage/app/RELEASE"

log "npm ci --omit=dev with $(node --version 2>/dev/null || echo 'node ?') / npm $(npm --version)"
(cd "$stage/app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)

mkdir -p "$OUT_DIR"
tar -C "$stage/app" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime='2020-01-01 00:00:00 UTC' --mode='u+rwX,go+rX,go-w' -cf - . | gzip -9 -n > "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
log "built $OUT ($(du -h "$OUT" | cut -f1), sha256 $(sha256sum "$OUT" | cut -c1-16)...)"
echo "$OUT"
