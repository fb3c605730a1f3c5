# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind, number_error
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import refuse_if

DOCUMENTATION = r"""
name: firewall_rules
short_description: The ports one host opens, and to whom, from the fleet's flows and its inventory
version_added: 0.1.0
description:
  - Turns the fleet's flows (which group serves which ports to which groups) into the rules one
    host's firewall needs, with the sources resolved to the addresses of the groups' hosts.
  - A flow applies to the host when it is in the flow's C(to) group. Its sources are the
    C(address_var) of every host in its C(from) groups (a group the inventory lacks adds
    nothing), plus its literal C(sources) (addresses or networks); C(from) C(any) opens the ports
    to everyone. Sources are split into IPv4 and IPv6, sorted, without duplicates.
  - Refuses unknown keys, a bad name, port or source, and a source host without the address
    variable, every problem at once.
positional: _input, groups, hostvars, host
options:
  _input:
    description:
      - The flows, each a dict with C(name) (letters, digits, space, C(_ . -)), C(to) (a group),
        C(ports) (a list of TCP ports) and C(from) (a list of groups, or C(any)), optionally
        C(sources) (a list of addresses or networks).
    type: list
    elements: dict
    required: true
  groups:
    description: The inventory's C(groups).
    type: dict
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: dict
    required: true
  host:
    description: The host whose rules to build (C(inventory_hostname)).
    type: str
    required: true
  address_var:
    description: The host variable holding the address a host's traffic comes from.
    type: str
    default: fleet_private_ip
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# group_vars/all: LB -> app, app -> PgBouncer; the rules of this host.
firewall_flows:
  - {name: https, to: loadbalancers, ports: [80, 443], from: any}
  - {name: app, to: backends, ports: [3000], from: [loadbalancers]}
  - {name: pgbouncer, to: pgbouncer, ports: [6432], from: [backends], sources: [10.10.0.5]}
rules: "{{ firewall_flows | koinonia.fleet.firewall_rules(groups, hostvars, inventory_hostname) }}"
# on app1 => [{name: app, ports: [3000], any: false, ipv4: [10.10.0.10], ipv6: []}]
"""

RETURN = r"""
_value:
  description:
    - One dict per flow that applies to the host, in the flows' order, with C(name), C(ports),
      C(any) (open to everyone), C(ipv4) and C(ipv6) (the sources). A flow whose groups have no
      hosts and that names no sources is left out (nothing would match it).
  type: list
  elements: dict
  sample: [{name: app, ports: [3000], any: false, ipv4: [10.10.0.10], ipv6: []}]
"""

_KEYS = ('name', 'to', 'ports', 'from', 'sources')
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}')


def _network(value):
    """An address or network as nftables takes it, or None."""
    if not isinstance(value, str):
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _sources(where, flow, groups, hostvars, address_var, errors):
    """(any, set of networks) for one flow."""
    origin = flow.get('from')
    networks = set()
    if origin == 'any':
        return True, networks
    if not isinstance(origin, list) or not all(isinstance(g, str) for g in origin):
        errors.append(f"{where}.from must be a list of groups or 'any', got {kind(origin)} {origin!r}")
        origin = []
    for group in origin:
        for member in groups.get(group, []):
            address = (hostvars.get(member) or {}).get(address_var)
            network = _network(address)
            if network is None:
                errors.append(f"{where}: host {member} (group {group}) has no usable {address_var} "
                              f"(got {kind(address)} {address!r}); set it in the inventory")
            else:
                networks.add(network)
    extra = flow.get('sources', [])
    if not isinstance(extra, list):
        errors.append(f"{where}.sources must be a list of addresses or networks, got {kind(extra)}")
        extra = []
    for value in extra:
        network = _network(value)
        if network is None:
            errors.append(f"{where}.sources: {value!r} is not an address or network")
        else:
            networks.add(network)
    return False, networks


def firewall_rules(flows, groups, hostvars, host, address_var='fleet_private_ip'):
    if isinstance(flows, (str, bytes, Mapping)) or not isinstance(flows, (list, tuple)):
        raise AnsibleFilterError(f"firewall_rules expects a list of flows, got {kind(flows)}")
    if not isinstance(groups, Mapping) or not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("firewall_rules needs the inventory's groups and hostvars (dicts)")
    errors, rules = [], []
    for index, flow in enumerate(flows):
        where = f"flows[{index}]"
        if not isinstance(flow, Mapping):
            errors.append(f"{where} must be a dict, got {kind(flow)}")
            continue
        unknown = sorted(str(k) for k in flow if k not in _KEYS)
        if unknown:
            errors.append(f"{where}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(_KEYS)}")
        name = flow.get('name')
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            errors.append(f"{where}.name must be letters, digits, space, _ . - (up to 63), got {name!r}")
        if not isinstance(flow.get('to'), str) or not flow.get('to'):
            errors.append(f"{where}.to must be a group name, got {flow.get('to')!r}")
        ports = flow.get('ports')
        if not isinstance(ports, list) or not ports:
            errors.append(f"{where}.ports must be a non-empty list of ports, got {kind(ports)} {ports!r}")
            ports = []
        port_errors = [e for e in (number_error(f"{where}.ports[{i}]", p, 1, 65535) for i, p in enumerate(ports)) if e]
        errors.extend(port_errors)
        anyone, networks = _sources(where, flow, groups, hostvars, address_var, errors)
        if host not in groups.get(flow.get('to'), []) or port_errors or not (anyone or networks):
            continue
        rules.append({
            'name': name, 'ports': sorted(set(ports)), 'any': anyone,
            'ipv4': sorted((n for n in networks if ':' not in n), key=ipaddress.ip_network),
            'ipv6': sorted((n for n in networks if ':' in n), key=ipaddress.ip_network),
        })
    refuse_if(errors, 'firewall_rules refused')
    return rules


class FilterModule:
    def filters(self):
        return {'firewall_rules': firewall_rules}
