# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind

DOCUMENTATION = r"""
name: redis_auth_line
short_description: The AUTH line that gives redis-cli a password on its standard input
version_added: 0.1.0
description:
  - redis-cli reads commands from its standard input when it is not a terminal. This filter writes
    the AUTH command for a password as one such line, the password in double quotes with C(\) and
    C(") escaped, so any printable password (spaces, quotes, backslashes, C($)) reaches Redis as is.
  - A password on standard input shows neither in C(ps) nor in Ansible's verbose output, unlike one in
    an argument or in the C(REDISCLI_AUTH) environment variable.
  - A password that is not a non-empty string, or that holds a control character (a line break would
    end the command), is refused; the error never shows the password.
positional: _input
options:
  _input:
    description: The password.
    type: str
    required: true
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Ask Redis for its users
  ansible.builtin.command:
    argv: [redis-cli, -h, 127.0.0.1]
    stdin: "{{ redis_password | koinonia.fleet.redis_auth_line }}\nACL LIST"
  no_log: true
"""

RETURN = r"""
_value:
  description: C(AUTH "<password>"), without a line break.
  type: str
  sample: AUTH "p@ss \"w\\rd\""
"""

_CONTROL = re.compile(r'[\x00-\x1f\x7f]')


def redis_auth_line(password):
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError(f"redis_auth_line expects a non-empty password string, got {kind(password)}")
    if _CONTROL.search(password):
        raise AnsibleFilterError("redis_auth_line refused the password: it holds a control character or a line break"
                                 " (value not shown)")
    return 'AUTH "' + password.replace('\\', '\\\\').replace('"', '\\"') + '"'


class FilterModule:
    def filters(self):
        return {'redis_auth_line': redis_auth_line}
