"""Every filter plugin documents itself the same way: DOCUMENTATION, EXAMPLES and RETURN parse as
YAML, the name is the file's, and version_added is a release of this collection (galaxy.yml)."""
import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
PLUGINS = sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.py") if not p.stem.startswith("_"))
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]


def release(text):
    return tuple(int(part) for part in str(text).split("."))


@pytest.mark.parametrize("name", PLUGINS)
def test_documented(name):
    plugin = importlib.import_module(f"ansible_collections.koinonia.fleet.plugins.filter.{name}")
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == name
    assert release(doc["version_added"]) <= release(VERSION), (doc["version_added"], VERSION)
    assert yaml.safe_load(plugin.EXAMPLES)
    assert yaml.safe_load(plugin.RETURN)
    assert name in plugin.FilterModule().filters()


@pytest.mark.parametrize("name", PLUGINS)
def test_licence_header(name):
    assert "SPDX-License-Identifier: GPL-3.0-or-later" in (ROOT / "plugins" / "filter" / f"{name}.py").read_text()


MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))


@pytest.mark.parametrize("name", MODULES)
def test_module_documented(name):
    plugin = importlib.import_module(f"ansible_collections.koinonia.fleet.plugins.modules.{name}")
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["module"] == name
    assert release(doc["version_added"]) <= release(VERSION)
    assert yaml.safe_load(plugin.EXAMPLES) and yaml.safe_load(plugin.RETURN)
    assert "SPDX-License-Identifier: GPL-3.0-or-later" in (ROOT / "plugins" / "modules" / f"{name}.py").read_text()
