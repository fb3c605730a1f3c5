# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import UpstreamError, apply_record
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import expect_dict

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


def upstream_states(backends, stored):
    expect_dict('upstream_states', stored)
    try:
        return apply_record(backends, stored)
    except UpstreamError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {'upstream_states': upstream_states}
