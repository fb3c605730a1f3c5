# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind
from ansible_collections.koinonia.fleet.plugins.module_utils.exporters import check_exporters

DOCUMENTATION = r"""
name: host_exporters
short_description: The exporters one host runs, from the fleet's list of exporters
version_added: 0.1.0
description:
  - Picks from the fleet's exporters (each a name, the inventory group whose hosts run it, and its
    port) those whose group this host is in, for C(prometheus_exporters_enabled) of the
    koinonia.fleet.prometheus_exporters role. The group C(all) is every host's.
  - Refuses, naming the exporter and the value, every error at once - an entry that is not a dict
    of C(name), C(group) and C(port), a name given twice, a port out of range or taken by another
    exporter.
positional: _input, group_names
options:
  _input:
    description: The fleet's exporters, each a dict with C(name), C(group) and C(port).
    type: list
    elements: dict
    required: true
  group_names:
    description: The groups this host is in (Ansible's C(group_names)).
    type: list
    elements: str
    required: true
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Run the exporters the fleet puts on this host
  ansible.builtin.include_role:
    name: koinonia.fleet.prometheus_exporters
  vars:
    prometheus_exporters_enabled: "{{ fleet_exporters | koinonia.fleet.host_exporters(group_names) }}"
    fleet_exporters:
      - {name: node, group: all, port: 9100}
      - {name: redis, group: redis, port: 9121}
"""

RETURN = r"""
_value:
  description: This host's exporters, each with its name and port, in the order of the list.
  type: list
  elements: dict
  sample:
    - {name: node, port: 9100}
    - {name: redis, port: 9121}
"""


def host_exporters(exporters, group_names):
    entries, errors = check_exporters(exporters)
    if not isinstance(group_names, list):
        errors.append(f"group_names must be a list of group names, got {kind(group_names)}")
    errors += [f"exporter {e['name']!r}: workers_var is for an app's own metrics (exporter_scrape_jobs only);"
               " it is not an exporter this filter can place" for e in entries if "workers_var" in e]
    if errors:
        raise AnsibleFilterError("host_exporters refused the exporters: " + "; ".join(errors))
    return [{"name": e["name"], "port": e["port"]} for e in entries
            if e["group"] == "all" or e["group"] in group_names]


class FilterModule:
    def filters(self):
        return {"host_exporters": host_exporters}
