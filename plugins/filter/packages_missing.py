# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import refuse_if

DOCUMENTATION = r"""
name: packages_missing
short_description: The packages of a list that a host's package facts do not show installed
version_added: 0.1.0
description:
  - Returns the names in the list that O(installed) (C(ansible_facts.packages), from
    C(ansible.builtin.package_facts)) does not have, in the list's order, so that an install task
    runs only when there is something to install. C(ansible.builtin.apt) opens the package cache
    on every run, about three times the cost of a plain module; the playbooks gather the package
    facts once per host in their preflight.
  - Facts that were not gathered (O(installed) null or omitted) know nothing, so every name
    is returned and the install task runs as it would without this filter.
  - A name with a version, release or architecture (C(nodejs=20.*), C(foo:amd64)) cannot be
    answered by name alone and is always returned.
  - Facts gathered earlier in the run do not see what a later task installed; they can only make
    a task run that had nothing to do, never skip one that had.
positional: _input, installed
options:
  _input:
    description: Debian package names.
    type: list
    elements: str
    required: true
  installed:
    description: C(ansible_facts.packages), a dict from package name to its installed versions; null when not gathered.
    type: dict
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Install nftables
  ansible.builtin.apt:
    name: nftables
    state: present
  when: "['nftables'] | koinonia.fleet.packages_missing(ansible_facts.packages | default(none)) | length > 0"
"""

RETURN = r"""
_value:
  description: The names not known to be installed, in the order given.
  type: list
  elements: str
"""

# A bare Debian package name (Debian Policy 5.6.1); anything else carries a version or an architecture.
_BARE_NAME = re.compile(r'^[a-z0-9][a-z0-9+.-]+$')


def packages_missing(names, installed=None):
    errors = []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)):
        errors.append(f"the package names must be a list of strings, got {kind(names)}")
        names = []
    bad = [repr(n) for n in names if not isinstance(n, str) or not n]
    if bad:
        errors.append(f"package names must be non-empty strings, got {', '.join(bad)}")
    if installed is not None and not isinstance(installed, Mapping):
        errors.append(f"installed must be ansible_facts.packages (a dict) or null, got {kind(installed)}")
    refuse_if(errors, 'packages_missing refused')
    if installed is None:
        return list(names)
    return [n for n in names if not _BARE_NAME.match(n) or not installed.get(n)]


class FilterModule:
    def filters(self):
        return {'packages_missing': packages_missing}
