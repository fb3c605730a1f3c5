# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import expect_dict, kind

DOCUMENTATION = r"""
name: upstream_states
short_description: Apply the backend changes stored on a load balancer to the inventory's backends
version_added: 0.1.0
description:
  - Ad-hoc reconfiguration (C(playbooks/upstreams.yml)) stores on each load balancer which backends
    were drained, taken down, added or removed. This filter applies that record to the list of backends
    the inventory describes, so that a later full rollout keeps a drained backend drained.
  - Backends are matched by C(name), or by C(address) when they have no name.
  - The result goes on to P(koinonia.fleet.upstream_servers#filter), which refuses a list with no active backend.
  - A malformed record is refused with every problem named at once.
positional: _input, stored
options:
  _input:
    description: The inventory's backends (dicts with at least C(address) and C(port)).
    type: list
    elements: dict
    required: true
  stored:
    description:
      - The stored record, a dict with optional keys C(states) (backend to C(active), C(drain), C(down) or
        C(backup)), C(added) (backend dicts to append) and C(removed) (backends to leave out).
      - An empty dict leaves the list as it is.
    type: dict
    required: true
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Respect a drained backend in a full rollout
  ansible.builtin.debug:
    msg: "{{ backends | koinonia.fleet.upstream_states({'states': {'app2': 'drain'}}) }}"
  vars:
    backends:
      - { name: app1, address: 10.0.0.21, port: 3000 }
      - { name: app2, address: 10.0.0.22, port: 3000 }
# -> app2 gets state: drain
"""

RETURN = r"""
_value:
  description: The backends with the stored states applied, added ones appended and removed ones left out.
  type: list
  elements: dict
"""

_KNOWN = ('states', 'added', 'removed')
_STATES = ('active', 'drain', 'down', 'backup')


def _key(entry):
    return str(entry.get('name') or entry.get('address'))


def _check_record(stored):
    """Every problem with the stored record, one line each."""
    errors = []
    unknown = sorted(str(k) for k in stored if k not in _KNOWN)
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)} in the stored record; known keys are {', '.join(_KNOWN)}")
    states = stored.get('states') or {}
    if not isinstance(states, Mapping):
        errors.append(f"'states' must be a dict of backend to state, got {kind(states)}")
    else:
        bad = sorted(f"{name}={state!r}" for name, state in states.items() if state not in _STATES)
        if bad:
            errors.append(f"unknown state(s) {', '.join(bad)}; states are {', '.join(_STATES)}")
    added = stored.get('added') or []
    if not isinstance(added, list) or not all(isinstance(a, Mapping) for a in added):
        errors.append(f"'added' must be a list of backend dicts, got {kind(added)}")
    removed = stored.get('removed') or []
    if not isinstance(removed, list) or not all(isinstance(r, (str, int)) for r in removed):
        errors.append(f"'removed' must be a list of backend names or addresses, got {kind(removed)}")
    return errors


def upstream_states(backends, stored):
    if not isinstance(backends, list) or not all(isinstance(b, Mapping) for b in backends):
        raise AnsibleFilterError(f"upstream_states expects a list of dicts, got {kind(backends)}")
    expect_dict('upstream_states', stored)
    errors = _check_record(stored)
    if errors:
        raise AnsibleFilterError("upstream_states refused: " + "; ".join(errors))
    states = stored.get('states') or {}
    added = stored.get('added') or []
    removed = {str(r) for r in stored.get('removed') or []}
    present = {_key(b) for b in backends}
    merged = [dict(b) for b in backends] + [dict(a) for a in added if _key(a) not in present]
    result = []
    for entry in merged:
        key = _key(entry)
        if key in removed:
            continue
        if key in states:
            entry['state'] = states[key]
        result.append(entry)
    return result


class FilterModule:
    def filters(self):
        return {'upstream_states': upstream_states}
