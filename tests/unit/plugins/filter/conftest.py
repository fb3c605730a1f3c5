"""Make the filter plugins importable as plain modules.

The collection is not necessarily installed as ansible_collections.koinonia.fleet when
pytest runs, so the tests import plugins/filter/<name>.py directly.
"""
import sys
from pathlib import Path

FILTER_DIR = Path(__file__).resolve().parents[4] / 'plugins' / 'filter'
if str(FILTER_DIR) not in sys.path:
    sys.path.insert(0, str(FILTER_DIR))
