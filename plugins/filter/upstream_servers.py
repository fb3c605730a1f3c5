# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import FLAGS, server_line
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import (
    check_keys, kind, number_error, refuse_if, url_host)

DOCUMENTATION = r"""
name: upstream_servers
short_description: Render NGINX upstream server lines for the app backends
version_added: 0.1.0
description:
  - Turns a list of backends into NGINX C(server) lines for an C(upstream) block, in input order,
    for example C(server 10.0.0.5:3000 weight=1 max_fails=3 fail_timeout=30s;).
  - C(state=backup) appends C(backup); C(state=down) appends C(down). C(state=drain) also appends
    C(down), because open-source NGINX has no drain parameter; marking the server down and
    reloading lets the old workers finish their in-flight requests while new requests go to
    the other servers.
  - Non-active servers get a trailing comment C(# <name or address> <state>) so the rendered
    config says why; active servers with a C(name) get C(# <name>).
  - Refuses an empty list, duplicate address:port pairs, unknown keys or states, bad ports and
    weights, and a list without any active server.
positional: _input
options:
  _input:
    description: The upstream servers.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description: Hostname, IPv4 or IPv6 address (IPv6 is bracketed in the output).
        type: str
        required: true
      port:
        description: TCP port, 1-65535.
        type: int
        required: true
      weight:
        description: NGINX C(weight), >= 1.
        type: int
        default: 1
      state:
        description: C(active), C(drain), C(down) or C(backup).
        type: str
        default: active
        choices: [active, drain, down, backup]
      max_fails:
        description:
          - NGINX C(max_fails), >= 0 (0 disables passive health checks).
          - Defaults to the filter's O(max_fails).
        type: int
        required: false
      fail_timeout:
        description:
          - NGINX C(fail_timeout); an integer means seconds, or a time string such as C(30s), C(1m), C(500ms).
          - Defaults to the filter's O(fail_timeout).
        type: raw
        required: false
      name:
        description: Label used in the trailing comment.
        type: str
        required: false
  max_fails:
    description:
      - C(max_fails) for entries that do not set it.
      - NGINX's own default is 1; passive checks are ignored when the upstream has a single server.
    type: int
    default: 3
  fail_timeout:
    description: C(fail_timeout) for entries that do not set it (integer seconds or NGINX time string).
    type: raw
    default: 30s
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# upstream koinonia_api {
# {% for line in app_backends | koinonia.fleet.upstream_servers(max_fails=2, fail_timeout='10s') %}
#     {{ line }}
# {% endfor %}
# }
app_backends:
  - {address: 10.0.0.5, port: 3000, name: app1}
  - {address: 10.0.0.6, port: 3000, name: app2, state: drain}
  - {address: "fd00::7", port: 3000, state: backup}
upstream_lines: "{{ app_backends | koinonia.fleet.upstream_servers }}"
# => - server 10.0.0.5:3000 weight=1 max_fails=3 fail_timeout=30s; # app1
#    - server 10.0.0.6:3000 weight=1 max_fails=3 fail_timeout=30s down; # app2 drain
#    - server [fd00::7]:3000 weight=1 max_fails=3 fail_timeout=30s backup; # [fd00::7] backup
"""

RETURN = r"""
_value:
  description: One NGINX C(server) line per input entry, in input order.
  type: list
  elements: str
"""

_KNOWN = ('address', 'port', 'weight', 'state', 'max_fails', 'fail_timeout', 'name')
_FLAGS = FLAGS
_TIME = re.compile(r'(?:\d+(?:ms|s|m|h|d|w|M|y))*\d*')  # NGINX time syntax; a bare number is seconds


def _time(name, value):
    """Return (rendered NGINX time, error)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (f'{value}s', None) if value >= 0 else (None, f"{name} must be >= 0 seconds, got {value}")
    if isinstance(value, str) and value and _TIME.fullmatch(value):
        return value, None
    return None, (f"{name} must be integer seconds or an NGINX time such as '30s', '1m', '500ms', "
                  f"got {kind(value)} {value!r}")


def _get(entry, key, default):
    """entry[key], or default when it is missing or null."""
    value = entry.get(key)
    return default if value is None else value


def upstream_servers(servers, max_fails=3, fail_timeout='30s'):
    errors = [e for e in (number_error('max_fails', max_fails, 0),) if e]
    default_timeout, error = _time('fail_timeout', fail_timeout)
    if error:
        errors.append(error)
    refuse_if(errors, 'upstream_servers refused (filter options)')
    if isinstance(servers, (str, bytes, Mapping)) or not isinstance(servers, (list, tuple)):
        raise AnsibleFilterError(f"upstream_servers expects a list of dicts, got {kind(servers)}")
    if not servers:
        raise AnsibleFilterError("upstream_servers refused: the server list is empty; an upstream "
                                 "needs at least one active server")

    lines, seen, active = [], {}, 0
    for index, entry in enumerate(servers):
        where = f"servers[{index}]"
        if not isinstance(entry, Mapping):
            errors.append(f"{where} must be a dict, got {kind(entry)}")
            continue
        problems = []
        missing = check_keys(entry, _KNOWN, ('address', 'port'), problems)
        host = key = None
        if 'address' not in missing:
            try:
                host, key = url_host(entry['address'])
            except ValueError:
                problems.append(f"address must be a hostname, IPv4 or IPv6 address, got {entry['address']!r}")
        port = entry.get('port')
        weight = _get(entry, 'weight', 1)
        fails = _get(entry, 'max_fails', max_fails)
        problems += [e for e in (None if 'port' in missing else number_error('port', port, 1, 65535),
                                 number_error('weight', weight, 1), number_error('max_fails', fails, 0)) if e]
        timeout, error = (default_timeout, None) if entry.get('fail_timeout') is None \
            else _time('fail_timeout', entry['fail_timeout'])
        if error:
            problems.append(error)
        state = _get(entry, 'state', 'active')
        if not isinstance(state, str) or state not in _FLAGS:
            problems.append(f"unknown state {state!r}; use one of {', '.join(_FLAGS)}")
        name = entry.get('name')
        if name is not None and (not isinstance(name, str) or not name or not name.isprintable()):
            problems.append(f"name must be a non-empty single-line string, got {name!r}")
        if problems:
            errors += [f"{where}: {p}" for p in problems]
            continue
        if (key, port) in seen:
            errors.append(f"{where}: duplicate server {host}:{port} (same as servers[{seen[key, port]}]); "
                          f"each address:port may appear once")
            continue
        seen[key, port] = index
        active += state == 'active'
        lines.append(server_line(f"{host}:{port}", weight, fails, timeout, state, name))
    if not errors and not active:
        errors.append(f"no active server among {len(servers)}; drain, down and backup servers do not "
                      f"serve normal traffic, so set state: active on at least one")
    refuse_if(errors, 'upstream_servers refused')
    return lines


class FilterModule:
    def filters(self):
        return {'upstream_servers': upstream_servers}
