#!/usr/bin/python
# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upstream
short_description: Set one backend active, drain, down or backup in a rendered NGINX upstream
version_added: 0.1.0
description:
  - Edits the C(server) line of one backend, as P(koinonia.fleet.upstream_servers#filter) renders it,
    in the load balancer's site file, and records the state in the load balancer's state file, which
    the nginx_lb role applies on every later run (P(koinonia.fleet.upstream_states#filter)).
  - The new site is tested with O(validate) on a candidate copy first; a refused candidate changes
    nothing, neither the site nor the record. Reloading NGINX is left to the caller.
  - Refuses a backend that no server line names, or names twice, and a change that would leave the
    upstream without an active backend, before anything changes.
options:
  name:
    description: The backend's name, as in the comment of its server line (C(nginx_lb_backends[].name)).
    type: str
    required: true
  state:
    description:
      - C(drain) and C(down) both render C(down) (open-source NGINX has no drain); C(backup) puts a
        backup server back as one.
    type: str
    required: true
    choices: [active, drain, down, backup]
  site:
    description: The site file holding the upstream block.
    type: path
    default: /etc/nginx/conf.d/koinonia-lb.conf
  record:
    description: The state file (JSON, keys C(states), C(added), C(removed)); the state is stored under C(states).
    type: path
    default: /etc/nginx/koinonia-upstream-state.json
  validate:
    description:
      - Command that tests the candidate site, C(%s) standing for its path; a non-zero exit refuses the change.
    type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Drain app2 on this load balancer
  koinonia.fleet.nginx_upstream:
    name: app2
    state: drain
    validate: /usr/local/sbin/nginx-check-candidate %s /etc/nginx/conf.d/koinonia-lb.conf
  register: drained

- name: Reload NGINX when the site changed
  ansible.builtin.systemd_service:
    name: nginx
    state: reloaded
  when: drained.site_changed
"""

RETURN = r"""
previous_state:
  description: The state the live site gave the backend before the change.
  returned: success
  type: str
  sample: active
site_changed:
  description: Whether the site file changed (NGINX needs a reload).
  returned: success
  type: bool
line:
  description: The backend's server line after the change.
  returned: success
  type: str
  sample: "server 10.0.0.6:3000 weight=1 max_fails=3 fail_timeout=10s down; # app2 drain"
"""

import json
import os
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import STATES, set_state


def _read(path, default=''):
    try:
        with open(path, encoding='utf-8') as src:
            return src.read()
    except FileNotFoundError:
        return default


def _record_text(old_text, name, state):
    """The record with states[name] = state, as the nginx_lb role writes it (to_nice_json)."""
    try:
        record = json.loads(old_text) if old_text.strip() else {}
    except ValueError as err:
        raise ValueError(f"the record is not JSON ({err}); fix or remove it") from None
    if not isinstance(record, dict) or not isinstance(record.get('states', {}), dict):
        raise ValueError("the record must be a JSON object whose 'states' is an object; fix or remove it")
    record = dict(record, states=dict(record.get('states', {}), **{name: state}))
    return json.dumps(record, indent=4, sort_keys=True) + '\n'


def _write(module, path, text, mode):
    """Write through a temporary file in the same directory, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.' + os.path.basename(path) + '.')
    with os.fdopen(fd, 'w', encoding='utf-8') as out:
        out.write(text)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec={
            'name': {'type': 'str', 'required': True},
            'state': {'type': 'str', 'required': True, 'choices': list(STATES)},
            'site': {'type': 'path', 'default': '/etc/nginx/conf.d/koinonia-lb.conf'},
            'record': {'type': 'path', 'default': '/etc/nginx/koinonia-upstream-state.json'},
            'validate': {'type': 'str'},
        },
        supports_check_mode=True,
    )
    name, state, site, record = (module.params[k] for k in ('name', 'state', 'site', 'record'))
    site_text = _read(site, None)
    if site_text is None:
        module.fail_json(msg=f"{site} does not exist: render the load balancer's site (the nginx_lb role) first")
    old_record = _read(record)
    try:
        new_site, previous, old_line, new_line = set_state(site_text, name, state)
        new_record = _record_text(old_record, name, state)
    except ValueError as err:
        module.fail_json(msg=f"{name}={state} refused, nothing changed: {err}")
    site_changed = new_site != site_text
    changed = site_changed or new_record != old_record
    result = {'changed': changed, 'site_changed': site_changed, 'previous_state': previous, 'line': new_line.strip(),
              'diff': [{'before_header': site, 'after_header': site, 'before': old_line.strip() + '\n',
                        'after': new_line.strip() + '\n'},
                       {'before_header': record, 'after_header': record, 'before': old_record, 'after': new_record}]}
    if not changed or module.check_mode:
        module.exit_json(**result)

    if site_changed:
        if module.params['validate']:
            if '%s' not in module.params['validate']:
                module.fail_json(msg="validate must contain %s (the candidate's path)")
            fd, candidate = tempfile.mkstemp(dir=module.tmpdir, suffix='.conf')
            with os.fdopen(fd, 'w', encoding='utf-8') as out:
                out.write(new_site)
            rc, out, err = module.run_command(shlex.split(module.params['validate'] % candidate))
            if rc != 0:
                module.fail_json(msg=f"{name}={state} refused by validate, nothing changed", rc=rc, stdout=out, stderr=err)
        _write(module, site, new_site, os.stat(site).st_mode & 0o7777)
    # Recorded once the site passed validation, so a refused change leaves no trace.
    _write(module, record, new_record, 0o644)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
