# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind, number_error
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import refuse_if

DOCUMENTATION = r"""
name: inventory_backends
short_description: The load balancer's backends from an inventory group
version_added: 0.1.0
description:
  - Turns the hosts of a group into the backend list the nginx_lb role takes
    (C(nginx_lb_backends)), one dict with C(name), C(address) and C(port) per host, in the
    group's order, named after the host and addressed by one of its variables.
  - Refuses hosts missing from O(hostvars) or without the address variable, and a bad port,
    every problem at once.
positional: _input, hostvars
options:
  _input:
    description: The hosts, for example C(groups['backends']).
    type: list
    elements: str
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: dict
    required: true
  port:
    description: The port the app listens on, on every host.
    type: int
    required: true
  address_var:
    description: The host variable holding the address the load balancer reaches the host at.
    type: str
    default: fleet_private_ip
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
nginx_lb_backends: "{{ groups['backends'] | koinonia.fleet.inventory_backends(hostvars, port=fleet_app_port | int) }}"
"""

RETURN = r"""
_value:
  description: One dict per host, C(name) (the host), C(address) and C(port).
  type: list
  elements: dict
  sample: [{name: app1, address: 10.10.0.21, port: 3000}]
"""


def inventory_backends(hosts, hostvars, port=None, address_var='fleet_private_ip'):
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError(f"inventory_backends expects a list of host names, got {kind(hosts)}")
    errors = [e for e in (number_error('port', port, 1, 65535),) if e]
    backends = []
    for host in hosts:
        try:
            address = hostvars[host].get(address_var)
        except (KeyError, TypeError, AttributeError):
            errors.append(f"host {host!r} is not in hostvars")
            continue
        if not isinstance(address, str) or not address:
            errors.append(f"host {host!r} has no {address_var} (got {kind(address)} {address!r}); set it in the inventory")
            continue
        backends.append({'name': str(host), 'address': address, 'port': port})
    refuse_if(errors, 'inventory_backends refused')
    return backends


class FilterModule:
    def filters(self):
        return {'inventory_backends': inventory_backends}
