# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import UpstreamError, render_servers

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


def upstream_servers(servers, max_fails=3, fail_timeout='30s'):
    try:
        return render_servers(servers, max_fails, fail_timeout)
    except UpstreamError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {'upstream_servers': upstream_servers}
