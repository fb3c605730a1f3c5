#!/usr/bin/python
# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: systemd_dropin
short_description: Write or remove a systemd drop-in for a unit
version_added: 0.1.0
description:
  - Writes C(<directory>/<unit>.d/<name>.conf) from O(settings), creating the drop-in directory, or
    removes it with O(state=absent). The file starts with a comment saying who manages it.
  - Does not reload systemd or restart the unit; notify a handler that does (C(daemon_reload) and
    a restart or reload, as the unit needs).
options:
  unit:
    description: The unit, with its suffix (C(pgbouncer.service)).
    type: str
    required: true
  name:
    description: The drop-in's file name without C(.conf).
    type: str
    default: koinonia
  settings:
    description:
      - Section to settings, for example C(Service) to C(LimitNOFILE=4096). A list value repeats the
        key (C(Environment)); booleans are written C(true) or C(false). An empty section is left out.
    type: dict
    default: {}
  state:
    description: C(absent) removes the drop-in (the directory stays).
    type: str
    choices: [present, absent]
    default: present
  comment:
    description: First line of the file, after C(# ).
    type: str
    default: Managed by koinonia.fleet; local changes are overwritten.
  directory:
    description: Where the unit's drop-in directory lives.
    type: path
    default: /etc/systemd/system
attributes:
  check_mode:
    description: Reports what would change, and changes nothing.
    support: full
  diff_mode:
    description: Shows the files before and after.
    support: full
author: koinonia.fleet maintainers (@koinonia-fleet)
"""

EXAMPLES = r"""
- name: Raise PgBouncer's file-descriptor limit
  koinonia.fleet.systemd_dropin:
    unit: pgbouncer.service
    settings:
      Service:
        LimitNOFILE: 4096
  notify: restart pgbouncer
"""

RETURN = r"""
path:
  description: The drop-in's path.
  returned: always
  type: str
  sample: /etc/systemd/system/pgbouncer.service.d/koinonia.conf
"""

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

_UNIT = re.compile(r'[A-Za-z0-9:_.@-]+\.(service|socket|timer|mount|path|target|slice|scope)')
_KEY = re.compile(r'[A-Za-z][A-Za-z0-9]*')


def _value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def render(settings, comment):
    """The drop-in's text, or raise ValueError naming every bad section, key or value."""
    errors, lines = [], [f'# {comment}']
    for section, values in settings.items():
        if not isinstance(values, dict) or not _KEY.fullmatch(str(section)):
            errors.append(f"section {section!r} must be a name with a dict of settings")
            continue
        if not values:
            continue
        lines += ['', f'[{section}]']
        for key, value in values.items():
            for one in value if isinstance(value, list) else [value]:
                if not _KEY.fullmatch(str(key)) or one is None or '\n' in _value(one):
                    errors.append(f"{section}.{key}: keys are letters and digits, values one line (not null); "
                                  f"got {key!r}={one!r}")
                    continue
                lines.append(f'{key}={_value(one)}')
    if errors:
        raise ValueError('; '.join(errors))
    return '\n'.join(lines) + '\n'


def main():
    module = AnsibleModule(
        argument_spec={
            'unit': {'type': 'str', 'required': True},
            'name': {'type': 'str', 'default': 'koinonia'},
            'settings': {'type': 'dict', 'default': {}},
            'state': {'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'},
            'comment': {'type': 'str', 'default': 'Managed by koinonia.fleet; local changes are overwritten.'},
            'directory': {'type': 'path', 'default': '/etc/systemd/system'},
        },
        supports_check_mode=True,
    )
    unit, name = module.params['unit'], module.params['name']
    if not _UNIT.fullmatch(unit) or not re.fullmatch(r'[A-Za-z0-9_.-]+', name):
        module.fail_json(msg=f"unit {unit!r} must be a unit name with its suffix and name {name!r} a file name")
    folder = os.path.join(module.params['directory'], unit + '.d')
    path = os.path.join(folder, name + '.conf')
    try:
        with open(path, encoding='utf-8') as src:
            before = src.read()
    except FileNotFoundError:
        before = None
    if module.params['state'] == 'absent':
        after = None
    else:
        try:
            after = render(module.params['settings'], module.params['comment'])
        except ValueError as err:
            module.fail_json(msg=f"settings for {unit} refused: {err}")
    changed = before != after
    result = {'changed': changed, 'path': path,
              'diff': {'before_header': path, 'after_header': path, 'before': before or '', 'after': after or ''}}
    if changed and not module.check_mode:
        if after is None:
            os.unlink(path)
        else:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + name + '.')
            with os.fdopen(fd, 'w', encoding='utf-8') as out:
                out.write(after)
            module.atomic_move(tmp, path)
            os.chmod(path, 0o644)  # atomic_move gives a new file the umask's mode
    module.exit_json(**result)


if __name__ == '__main__':
    main()
