# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind
from ansible_collections.koinonia.fleet.plugins.module_utils.exporters import check_exporters

DOCUMENTATION = r"""
name: exporter_scrape_jobs
short_description: The monitoring host's scrape jobs, from the fleet's exporters and the inventory
version_added: 0.1.0
description:
  - Turns the fleet's exporters (each a name, the inventory group whose hosts run it, and its port)
    into one scrape job per exporter, for C(prometheus_scrape_jobs) of the koinonia.fleet.prometheus
    role (checked there by koinonia.fleet.scrape_configs). Each host of the group is a target at its
    private address (the host variable C(address_var)), labelled with its inventory name as C(host).
  - An entry with C(workers_var) (an app whose workers each serve their own metrics) gives each host
    as many targets as that host variable says, on consecutive ports from C(port), each labelled
    with its C(worker) index too.
  - An exporter whose group the inventory does not have (yet) gets a job without targets, which
    koinonia.fleet.scrape_configs leaves out.
  - Refuses, naming the exporter, the host and the value, every error at once - an entry that is not
    a dict of C(name), C(group) and C(port), a name given twice, a port out of range or taken by
    another exporter, a host without the address variable or with a workers count that is not a
    number from 1 to 256.
positional: _input, groups, hostvars
options:
  _input:
    description: The fleet's exporters, each a dict with C(name), C(group), C(port) and optionally C(workers_var).
    type: list
    elements: dict
    required: true
  groups:
    description: The inventory's groups (Ansible's C(groups)).
    type: dict
    required: true
  hostvars:
    description: Ansible's C(hostvars), for each host's address.
    type: dict
    required: true
  address_var:
    description: The host variable holding the address the monitoring host reaches it at.
    type: str
    default: fleet_private_ip
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# group_vars/monitoring.yml
prometheus_scrape_jobs: "{{ fleet_exporters | koinonia.fleet.exporter_scrape_jobs(groups, hostvars) }}"
"""

RETURN = r"""
_value:
  description: One job per exporter, its targets in the order of the group's hosts.
  type: list
  elements: dict
  sample:
    - job: node
      targets:
        - {target: "10.10.0.21:9100", labels: {host: app1}}
        - {target: "10.10.0.41:9100", labels: {host: cache1}}
"""


def exporter_scrape_jobs(exporters, groups, hostvars, address_var="fleet_private_ip"):
    entries, errors = check_exporters(exporters)
    if not isinstance(groups, dict):
        errors.append(f"groups must be Ansible's groups (a dict), got {kind(groups)}")
        groups = {}
    jobs = []
    for entry in entries:
        targets = []
        for host in groups.get(entry["group"], []):
            address = (hostvars.get(host) or {}).get(address_var)
            if not isinstance(address, str) or not address:
                errors.append(f"exporter {entry['name']!r}: host {host} has no {address_var}")
                continue
            host_part = f"[{address}]" if ":" in address else address
            if "workers_var" not in entry:
                targets.append({"target": f"{host_part}:{entry['port']}", "labels": {"host": host}})
                continue
            workers = (hostvars.get(host) or {}).get(entry["workers_var"])
            try:
                count = int(workers)
            except (TypeError, ValueError):
                count = 0
            if isinstance(workers, bool) or not 1 <= count <= 256 or entry["port"] + count - 1 > 65535:
                errors.append(f"exporter {entry['name']!r}: host {host} has {entry['workers_var']} {workers!r},"
                              " not a number of workers from 1 to 256 (with the ports up to 65535)")
                continue
            targets += [{"target": f"{host_part}:{entry['port'] + index}", "labels": {"host": host, "worker": str(index)}}
                        for index in range(count)]
        jobs.append({"job": entry["name"], "targets": targets})
    if errors:
        raise AnsibleFilterError("exporter_scrape_jobs refused the exporters: " + "; ".join(errors))
    return jobs


class FilterModule:
    def filters(self):
        return {"exporter_scrape_jobs": exporter_scrape_jobs}
