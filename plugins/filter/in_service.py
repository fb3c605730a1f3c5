# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import refuse_if

DOCUMENTATION = r"""
name: in_service
short_description: The hosts of a group that a migration phase puts (or has put) in service
version_added: 0.1.0
description:
  - The scaling plan brings a group's hosts into service one phase at a time (the second backend in
    phase 3, the others in phase 4, the read replica in phase 6). A phase takes the first O(first)
    hosts of the group, in the inventory's order, plus every host that already serves, known by a
    local fact the role that set the host up left there (C(/etc/ansible/facts.d/<fact>.fact)).
  - So a phase run again after a later one takes nothing out of service, and a rollout can resume
    at any phase.
  - A host past the first O(first) whose facts were not gathered cannot be judged and is refused, as are a bad O(first) and a
    host missing from O(hostvars); every problem is named at once.
positional: _input, hostvars
options:
  _input:
    description: The group's hosts, in order, for example C(groups['backends']).
    type: list
    elements: str
    required: true
  hostvars:
    description: The inventory's C(hostvars), with facts gathered for every host of O(_input) past the first O(first).
    type: dict
    required: true
  first:
    description:
      - How many hosts, from the start of the group, the phase puts in service (0 or more; more than the
        group means all).
    type: int
    required: true
  fact:
    description: The local fact (C(ansible_local) key) a host in service carries.
    type: str
    required: true
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# Phase 3: the first two backends, and any that a later phase already brought in.
fleet_backends_serving: "{{ groups['backends'] | koinonia.fleet.in_service(hostvars, first=2, fact='koinonia_backend') }}"
"""

RETURN = r"""
_value:
  description: The hosts in service, in the group's order.
  type: list
  elements: str
  sample: [app1, app2, app3]
"""


def _serves(facts, fact):
    local = facts.get('ansible_local') if isinstance(facts, Mapping) else None
    return isinstance(local, Mapping) and fact in local


def in_service(hosts, hostvars, first=None, fact=None):
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError(f"in_service expects a list of host names, got {kind(hosts)}")
    errors = []
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        errors.append(f"first must be a whole number >= 0, got {kind(first)} {first!r}")
    if not isinstance(fact, str) or not fact:
        errors.append(f"fact must name a local fact, got {kind(fact)} {fact!r}")
    serving = []
    for index, host in enumerate(hosts):
        try:
            facts = hostvars[host].get('ansible_facts')
        except (KeyError, TypeError, AttributeError):
            errors.append(f"host {host!r} is not in hostvars")
            continue
        if isinstance(first, int) and index < first:
            serving.append(str(host))  # in service whatever its facts say (a dead host can still be taken out)
            continue
        if not isinstance(facts, Mapping) or 'ansible_local' not in facts:
            errors.append(f"the facts of {host!r} were not gathered: cannot tell whether it serves already "
                          "(make it reachable; a phase does not guess)")
            continue
        if isinstance(fact, str) and _serves(facts, fact):
            serving.append(str(host))
    refuse_if(errors, 'in_service refused')
    return serving


class FilterModule:
    def filters(self):
        return {'in_service': in_service}
