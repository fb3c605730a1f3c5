#!/usr/bin/env bash
# Build the base image for the test fleet once: Debian bookworm from debootstrap,
# systemd as PID 1, python3 for Ansible, and the CA certificates this machine
# trusts (HTTPS to the package registries goes through them).
#   scripts/build-image.sh           build when the image is missing
#   scripts/build-image.sh --force   rebuild (make clean-image)
set -euo pipefail

IMAGE=${KOINONIA_IMAGE:-koinonia-fleet/debian12:latest}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,curl,gnupg,locales,cron,less

log() { printf 'build-image: %s\n' "$*" >&2; }

if [ "${1:-}" != "--force" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE is present; reusing it (make clean-image rebuilds)"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

root=$(mktemp -d /var/tmp/koinonia-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$root"; }
trap cleanup EXIT

log "debootstrap $SUITE into $root (a few minutes)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || {
  tail -n 40 "$root.log" >&2; exit 1; }
rm -f "$root.log"

# Trust what the building machine trusts.
shopt -s nullglob
extra=(/usr/local/share/ca-certificates/*.crt)
if [ ${#extra[@]} -gt 0 ]; then
  cp "${extra[@]}" "$root/usr/local/share/ca-certificates/"
fi
chroot "$root" update-ca-certificates >/dev/null

cat >"$root/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SRC
# Keep images small and apt quiet.
cat >"$root/etc/apt/apt.conf.d/90koinonia" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
cat >"$root/etc/dpkg/dpkg.cfg.d/90koinonia-nodoc" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
DPKG

# systemd in a container: no getty, no udev triggers, a machine id made at boot.
chroot "$root" systemctl mask getty.target console-getty.service systemd-udevd.service \
  systemd-udev-trigger.service systemd-remount-fs.service sys-kernel-debug.mount \
  sys-kernel-tracing.mount >/dev/null 2>&1 || true
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo 'en_US.UTF-8 UTF-8' >"$root/etc/locale.gen"
chroot "$root" locale-gen >/dev/null 2>&1 || true
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
# An empty list directory with a fresh mtime looks like a valid cache to Ansible's apt
# module (cache_valid_time): age it so the first run updates the lists.
touch -d @0 "$root/var/lib/apt/lists"

log "importing as $IMAGE"
tar -C "$root" -c . | docker import \
  --change 'ENV container=docker' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/lib/systemd/systemd"]' \
  - "$IMAGE" >/dev/null
log "built $IMAGE"
