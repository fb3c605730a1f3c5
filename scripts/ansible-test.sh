#!/usr/bin/env bash
# make lint / make unit: ansible-test on a copy of the collection's tracked files at
# /tmp/koinonia-ansible-test/ansible_collections/koinonia/fleet: ansible-test needs the
# collection under an ansible_collections/NAMESPACE/NAME path, and outside this git tree (inside
# it, it skips every file the tree ignores, build/ included).
#   scripts/ansible-test.sh sanity      every sanity test, on Python 3.11
#   scripts/ansible-test.sh units       tests/unit (the filter, module and loadgen tests)
#
# ansible-test installs each sanity test's tools into its own venv and bootstraps pip there
# with get-pip.py from ci-files.testing.ansible.com, which these machines cannot reach. The
# stand-in written below, where ansible-test looks for its cached copy, installs the same pip
# version with the venv's ensurepip and PyPI; it is there only while this script runs (a real
# cached get-pip.py is left alone). Everything else is ansible-test's own doing.
set -euo pipefail
cd "$(dirname "$0")/.."
command=${1:?usage: scripts/ansible-test.sh sanity|units}
python=3.11
tree=${TMPDIR:-/tmp}/koinonia-ansible-test/ansible_collections/koinonia/fleet

# The pip version ansible-test pins for its venvs (default_packages in python_requirements.py).
pip_version=$(python3 - <<'PY'
import re
import ansible_test._internal.python_requirements as requirements
print(re.search(r"pip='([0-9.]+)'", open(requirements.__file__, encoding='utf-8').read()).group(1))
PY
)
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
# Only for this run: a real get-pip.py already cached stays, and the stand-in is removed after.
if [ ! -e "$cache" ]; then
  trap 'rm -f "$cache"' EXIT
  cat >"$cache" <<'PY'
# Stand-in for get-pip.py (written by koinonia.fleet's scripts/ansible-test.sh): pip from the
# venv's ensurepip, then the packages ansible-test asked for (pip==VERSION) from PyPI.
import subprocess
import sys
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *args])
PY
fi

rm -rf "$tree" && mkdir -p "$tree"
git ls-files -z -co --exclude-standard | grep -zvE '^(molecule|examples|runtime|inventories)/' | xargs -0 cp --parents -t "$tree"
cd "$tree"
case $command in
  sanity) ansible-test sanity --python "$python" --color no ;;
  units) ansible-test units --venv --requirements --python "$python" --color no ;;
  *) echo "usage: scripts/ansible-test.sh sanity|units" >&2; exit 2 ;;
esac
