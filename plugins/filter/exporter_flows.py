# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.exporters import check_exporters

DOCUMENTATION = r"""
name: exporter_flows
short_description: Firewall flows that let only the monitoring hosts reach the exporters
version_added: 0.1.0
description:
  - Turns the fleet's exporters (each a name, the inventory group whose hosts run it, and its port)
    into flows for koinonia.fleet.firewall (C(firewall_flows)), one per exporter - its port on the
    hosts of its group, open to the hosts of the given groups and to literal sources only.
  - Refuses, naming the exporter and the value, every error at once - an entry that is not a dict
    of C(name), C(group) and C(port), a name given twice, a port out of range or taken by another
    exporter, groups or sources that are not lists.
positional: _input, from_groups, sources
options:
  _input:
    description: The fleet's exporters, each a dict with C(name), C(group) and C(port).
    type: list
    elements: dict
    required: true
  from_groups:
    description: The inventory groups whose hosts may scrape (the monitoring hosts).
    type: list
    elements: str
    required: true
  sources:
    description: Literal addresses or networks that may scrape as well.
    type: list
    elements: str
    default: []
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# group_vars/all/firewall.yml
firewall_flows: "{{ fleet_firewall_flows + (fleet_exporters | koinonia.fleet.exporter_flows(['monitoring'])) }}"
"""

RETURN = r"""
_value:
  description: One flow per exporter, in the order of the list.
  type: list
  elements: dict
  sample:
    - {name: node exporter, to: all, ports: [9100], from: [monitoring], sources: []}
"""


def exporter_flows(exporters, from_groups, sources=None):
    entries, errors = check_exporters(exporters)
    sources = [] if sources is None else sources
    for label, value in (("from_groups", from_groups), ("sources", sources)):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            errors.append(f"{label} must be a list of strings, got {value!r}")
    errors += [f"exporter {e['name']!r}: workers_var is for an app's own metrics (exporter_scrape_jobs only);"
               " it is not an exporter this filter can place" for e in entries if "workers_var" in e]
    if errors:
        raise AnsibleFilterError("exporter_flows refused the exporters: " + "; ".join(errors))
    return [{"name": f"{e['name']} exporter", "to": e["group"], "ports": [e["port"]],
             "from": list(from_groups), "sources": list(sources)} for e in entries]


class FilterModule:
    def filters(self):
        return {"exporter_flows": exporter_flows}
