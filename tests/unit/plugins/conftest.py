"""Make the collection importable as ansible_collections.koinonia.fleet.

The plugins import their shared code from
ansible_collections.koinonia.fleet.plugins.plugin_utils and .module_utils, so the tests import the plugins by
that name too. The checkout resolves as koinonia.fleet through the symlink
.collections/ansible_collections/koinonia/fleet -> ../../.. (made by `make setup`); it is made
here the same way when missing, and .collections is put on sys.path.
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
COLLECTIONS = ROOT / '.collections'
LINK = COLLECTIONS / 'ansible_collections' / 'koinonia' / 'fleet'

if not LINK.is_dir():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    if LINK.is_symlink():  # dangling
        LINK.unlink()
    os.symlink('../../..', LINK)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
