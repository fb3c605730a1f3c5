#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#  - installs Debian's docker.io when dockerd is missing;
#  - starts dockerd in the background when it does not answer (there is no
#    systemd on the CI host), clearing a stale pid file left by a killed engine;
#  - waits until `docker info` answers.
# Safe to run when Docker is already up: then it does nothing.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

# An engine that was killed leaves its pid files behind; dockerd then refuses to start.
for pidfile in /var/run/docker.pid /run/docker/containerd/containerd.pid; do
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
    log "removing stale $pidfile"
    rm -f "$pidfile"
  fi
done

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "engine is up"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:"
tail -n 30 /var/log/dockerd.log >&2 || true
exit 1
