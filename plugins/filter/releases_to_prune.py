# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import posixpath
from collections.abc import Mapping

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind, number_error
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import refuse_if

DOCUMENTATION = r"""
name: releases_to_prune
short_description: The releases a backend can delete, the longest ago deployed first
version_added: 0.1.0
description:
  - Orders a backend's release directories by when each was last made the live release (deploy or
    rollback), newest first, keeps the first O(keep), and returns the paths of the rest, never one
    of O(protect) (the current and previous releases).
  - When a release went live is the modification time of its file in O(activations), one file per
    release named after it. Releases that never went live (shipped by a rollout that stopped) count
    as the oldest.
  - The directories' own times say nothing (the artifacts are built reproducibly, every file
    stamped alike).
positional: _input, activations, keep, protect
options:
  _input:
    description: The release directories, as C(ansible.builtin.find) lists them (dicts with C(path)).
    type: list
    elements: dict
    required: true
  activations:
    description: The activation files, as C(ansible.builtin.find) lists them (dicts with C(path) and C(mtime)).
    type: list
    elements: dict
    required: true
  keep:
    description: How many releases to keep, at least 1.
    type: int
    required: true
  protect:
    description: Releases never returned, as paths or names (only the last path component counts); empty entries are ignored.
    type: list
    elements: str
    default: []
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Remove all but the five most recently deployed releases
  ansible.builtin.file:
    path: "{{ item }}"
    state: absent
  loop: "{{ releases.files | koinonia.fleet.releases_to_prune(activations.files, 5, ['/srv/app/releases/1.4.0']) }}"
"""

RETURN = r"""
_value:
  description: The paths of the release directories to delete, the longest ago deployed first.
  type: list
  elements: str
"""


def _entries(name, value, keys, errors):
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)) \
            or not all(isinstance(v, Mapping) and all(k in v for k in keys) for v in value):
        errors.append(f"{name} must be a list of dicts with {' and '.join(keys)} (ansible.builtin.find's files), "
                      f"got {kind(value)}")
        return []
    return value


def releases_to_prune(releases, activations, keep, protect=()):
    errors = []
    releases = _entries('the releases', releases, ('path',), errors)
    activations = _entries('activations', activations, ('path', 'mtime'), errors)
    bad = sorted(str(a['path']) for a in activations
                 if isinstance(a['mtime'], bool) or not isinstance(a['mtime'], (int, float)))
    if bad:
        errors.append(f"activations need numeric mtimes: {', '.join(bad)}")
    errors += [e for e in (number_error('keep', keep, 1),) if e]
    if isinstance(protect, (str, bytes)) or not isinstance(protect, (list, tuple)):
        errors.append(f"protect must be a list of paths or names, got {kind(protect)}")
        protect = ()
    refuse_if(errors, 'releases_to_prune refused')
    went_live = {posixpath.basename(str(a['path'])): a['mtime'] for a in activations}
    protected = {posixpath.basename(str(p).rstrip('/')) for p in protect if p}
    paths = {posixpath.basename(str(r['path']).rstrip('/')): str(r['path']) for r in releases}
    # Newest first: last made live, latest first; never live, after all of those.
    newest_first = sorted(paths, key=lambda n: (n in went_live, went_live.get(n, 0), n), reverse=True)
    return [paths[n] for n in reversed(newest_first[keep:]) if n not in protected]


class FilterModule:
    def filters(self):
        return {'releases_to_prune': releases_to_prune}
