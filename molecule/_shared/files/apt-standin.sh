#!/bin/sh
# A stand-in for a vendor's APT repository, for the tests of koinonia.fleet.datadog_agent (Datadog's
# repository and key server cannot be reached from the test machines). Writes under $1:
#   keys/CURRENT.public   the key that signs the repository (the role fetches it unpinned, as Datadog's CURRENT)
#   keys/SECOND.public    another key, pinned by fingerprint in the inventory
#   apt/dists/stable/7/   a repository signed by the first key (InRelease, Release.gpg), holding no package:
#                         no stand-in for the agent's package is made; installing it is the step that
#                         cannot run here.
# and prints the two keys' fingerprints, one per line. Served by the webhook receiver (GET).
set -eu
out=$1
export GNUPGHOME="$(mktemp -d)"
trap 'rm -rf "$GNUPGHOME"' EXIT
mkdir -p "$out/keys" "$out/apt/dists/stable/7/binary-amd64"
for name in CURRENT SECOND; do
  gpg --batch --quiet --passphrase '' --quick-generate-key "koinonia test $name <$name@koinonia.test>" ed25519 sign 30d
done
fpr() { gpg --batch --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" {print $10; exit}'; }
current=$(fpr CURRENT@koinonia.test)
second=$(fpr SECOND@koinonia.test)
gpg --batch --armor --export "$current" > "$out/keys/CURRENT.public"
gpg --batch --armor --export "$second" > "$out/keys/SECOND.public"
cd "$out/apt/dists/stable"
: > 7/binary-amd64/Packages
gzip -9n < 7/binary-amd64/Packages > 7/binary-amd64/Packages.gz
{
  echo "Origin: koinonia-test"
  echo "Label: koinonia-test"
  echo "Suite: stable"
  echo "Codename: stable"
  echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
  echo "Architectures: amd64"
  echo "Components: 7"
  echo "SHA256:"
  for f in 7/binary-amd64/Packages 7/binary-amd64/Packages.gz; do
    echo " $(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"
  done
} > Release
gpg --batch --yes --local-user "$current" --clearsign --output InRelease Release
gpg --batch --yes --local-user "$current" --armor --detach-sign --output Release.gpg Release
echo "$current"
echo "$second"
