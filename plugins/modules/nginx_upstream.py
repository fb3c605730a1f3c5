#!/usr/bin/python
# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upstream
short_description: Set one backend active, drain, down or backup, add or remove it, in a rendered NGINX upstream
version_added: 0.1.0
description:
  - Owns the load balancer's record of ad-hoc upstream changes (O(record)), which the nginx_lb role
    applies on every later run (P(koinonia.fleet.upstream_states#filter)), and the C(server) lines of
    the site, exactly as P(koinonia.fleet.upstream_servers#filter) renders them.
  - A state change (O(state) C(active), C(drain), C(down), C(backup)) edits only that backend's line, so
    it works without the inventory, for example delegated from a backend's play during a deploy.
  - Adding a backend (O(address)) or removing one (O(state=absent)) re-renders every server line from
    O(backends) (the inventory's) and the new record, the same way the role does.
  - The new site is tested with O(validate) on a candidate copy first; a refused candidate changes
    nothing, neither the site nor the record. Reloading NGINX is left to the caller.
  - Changes are serialized per load balancer with a lock next to O(record) (C(.lock)), held from the
    moment the site and the record are read until both are written.
  - Refuses, before anything changes, a backend the upstream does not know, a line named twice, an
    added backend that clashes with the inventory, and a change that would leave no active backend.
options:
  name:
    description: The backend's name, as in the comment of its server line (C(nginx_lb_backends[].name)).
    type: str
    required: true
  state:
    description:
      - C(drain) and C(down) both render C(down) (open-source NGINX has no drain); C(backup) puts a
        backup server back as one; C(absent) removes the backend (needs O(backends)).
    type: str
    required: true
    choices: [active, drain, down, backup, absent]
  address:
    description:
      - Adds the backend at this address (hostname, IPv4 or IPv6) with O(port); needs O(backends).
      - For a backend of O(backends) that was removed, brings it back; the address must then be the inventory's.
    type: str
  port:
    description: The added backend's port.
    type: int
  backends:
    description:
      - The inventory's backends (C(nginx_lb_backends)), needed to re-render the server lines on add and remove.
    type: list
    elements: dict
  max_fails:
    description: C(max_fails) of backends that do not set their own, as given to the filter (C(nginx_lb_max_fails)).
    type: int
    default: 3
  fail_timeout:
    description:
      - C(fail_timeout) of backends that do not set their own (C(nginx_lb_fail_timeout)).
      - Integer seconds or an NGINX time such as C(10s).
    type: raw
    default: 30s
  site:
    description: The site file holding the upstream block.
    type: path
    default: /etc/nginx/conf.d/koinonia-lb.conf
  record:
    description: The state file (JSON, keys C(states), C(added), C(removed)); the state is stored under C(states).
    type: path
    default: /etc/nginx/koinonia-upstream-state.json
  remember:
    description:
      - Whether a state change is recorded, so that later runs of the nginx_lb role keep it over the
        inventory. An operator's drain or down is (C(true)); the drain a rolling deploy puts around a
        backend, and the state it gives back after, are not (C(false)). Add and remove are always recorded.
    type: bool
    default: true
  validate:
    description:
      - Command that tests the candidate site, C(%s) standing for its path; a non-zero exit refuses the change.
    type: str
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

- name: Add app4 outside the inventory
  koinonia.fleet.nginx_upstream:
    name: app4
    state: active
    address: 10.10.0.24
    port: 3000
    backends: "{{ nginx_lb_backends }}"
    max_fails: "{{ nginx_lb_max_fails }}"
    fail_timeout: "{{ nginx_lb_fail_timeout }}"
    validate: /usr/local/sbin/nginx-check-candidate %s /etc/nginx/conf.d/koinonia-lb.conf
"""

RETURN = r"""
previous_state:
  description:
    - The state the backend had before the change, C(absent) when it was not in the upstream.
    - For a state change, from its line in the live site; for add and remove, from the inventory and the record.
  returned: success
  type: str
  sample: active
site_changed:
  description: Whether the site file changed (NGINX needs a reload).
  returned: success
  type: bool
line:
  description: The backend's server line after the change (empty when it was removed).
  returned: success
  type: str
  sample: "server 10.0.0.6:3000 weight=1 max_fails=3 fail_timeout=10s down; # app2 drain"
"""

import fcntl
import json
import os
import shlex
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import (
    STATES, UpstreamError, apply_record, backend_key, edit_record, parse_line, record_errors, render_servers,
    replace_servers, set_state)
from ansible_collections.koinonia.fleet.plugins.module_utils.checks import url_host


def _read(path, default=''):
    try:
        with open(path, encoding='utf-8') as src:
            return src.read()
    except FileNotFoundError:
        return default


def _load_record(text):
    try:
        record = json.loads(text) if text.strip() else {}
    except ValueError as err:
        raise UpstreamError(f"the record is not JSON ({err}); fix or remove it") from None
    errors = record_errors(record)
    if errors:
        raise UpstreamError("the record is refused (fix or remove it)", errors)
    return record


def _dump_record(record):
    """As the nginx_lb role and earlier versions write it (to_nice_json)."""
    return json.dumps(record, indent=4, sort_keys=True) + '\n'


def _line_of(text, name):
    return next((line.strip() for line in text.split('\n') if (parse_line(line) or {}).get('name') == name), '')


def _change_line(site_text, record, name, state, remember):
    """A state change on the live line alone (no inventory needed), recorded when `remember`."""
    new_site, previous, _old_line, _new_line = set_state(site_text, name, state)
    if not remember:
        return new_site, previous, record
    return new_site, previous, dict(record, states=dict(record.get('states') or {}, **{name: state}))


def _same_server(entry, address, port):
    """Whether an inventory entry is address:port (IPv6 bracketed or not, hostnames in any case)."""
    try:
        return url_host(str(entry.get('address')))[1] == url_host(address)[1] and int(entry.get('port')) == port
    except (TypeError, ValueError):
        return False


def _change_backends(module, site_text, record, params):
    """Add or remove: the new record, and every server line re-rendered from it."""
    name, state, address, port, backends = (params[k] for k in ('name', 'state', 'address', 'port', 'backends'))
    before = {backend_key(b): b for b in apply_record(backends, record)}
    inventory = {backend_key(b): b for b in backends}
    added, record_state = None, state
    if address is not None:
        if name in inventory:
            mine = inventory[name]
            if not _same_server(mine, address, port):
                raise UpstreamError(f"{name} is in the inventory at {mine.get('address')}:{mine.get('port')}; "
                                    f"change it there, or add it under another name")
            record_state = None  # back in its place, as the inventory has it (active, backup, ...)
        else:
            added = {'name': name, 'address': address, 'port': port}
    elif name not in before:
        if state != 'absent':
            known = ', '.join(sorted(before)) or 'none'
            raise UpstreamError(f"{name!r} is not a backend of this load balancer (backends: {known})")
        module.warn(f"{name} is not in this load balancer's upstream; nothing to remove")
    new_record = edit_record(record, name, record_state, added, inventory=name in inventory)
    lines = render_servers(apply_record(backends, new_record), params['max_fails'], params['fail_timeout'])
    previous = (before[name].get('state') or 'active') if name in before else 'absent'
    return replace_servers(site_text, lines), previous, new_record


def _lock(module, path, timeout=120):
    """Hold an exclusive lock on `path` until the module exits (the kernel drops it then)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                module.fail_json(msg=f"another change to this load balancer's upstream still holds {path} after {timeout} s")
            time.sleep(0.1)


def _write(module, path, text, mode):
    """Write through a temporary file in the same directory, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.' + os.path.basename(path) + '.')
    with os.fdopen(fd, 'w', encoding='utf-8') as out:
        out.write(text)
    module.atomic_move(tmp, path)
    os.chmod(path, mode)  # atomic_move gives a new file the umask's mode


def main():
    module = AnsibleModule(
        argument_spec={
            'name': {'type': 'str', 'required': True},
            'state': {'type': 'str', 'required': True, 'choices': list(STATES) + ['absent']},
            'address': {'type': 'str'},
            'port': {'type': 'int'},
            'backends': {'type': 'list', 'elements': 'dict'},
            'max_fails': {'type': 'int', 'default': 3},
            'fail_timeout': {'type': 'raw', 'default': '30s'},
            'site': {'type': 'path', 'default': '/etc/nginx/conf.d/koinonia-lb.conf'},
            'record': {'type': 'path', 'default': '/etc/nginx/koinonia-upstream-state.json'},
            'validate': {'type': 'str'},
            'remember': {'type': 'bool', 'default': True},
        },
        required_if=[('state', 'absent', ['backends'])],
        required_by={'address': ['backends', 'port']},
        supports_check_mode=True,
    )
    name, state, site, record_path = (module.params[k] for k in ('name', 'state', 'site', 'record'))
    # One change at a time per load balancer: a deploy's drain and an operator's upstreams.yml run
    # would otherwise read the same record and site, and the later write would undo the earlier.
    _lock(module, record_path + '.lock')
    site_text = _read(site, None)
    if site_text is None:
        module.fail_json(msg=f"{site} does not exist: render the load balancer's site (the nginx_lb role) first")
    if module.params['validate'] and '%s' not in module.params['validate']:
        module.fail_json(msg="validate must contain %s (the candidate's path)")
    if state == 'absent' and module.params['address'] is not None:
        module.fail_json(msg="address is for adding a backend; state=absent removes one by name")
    old_record_text = _read(record_path)
    try:
        record = _load_record(old_record_text)
        if state == 'absent' or module.params['address'] is not None:
            new_site, previous, new_record = _change_backends(module, site_text, record, module.params)
        else:
            new_site, previous, new_record = _change_line(site_text, record, name, state, module.params['remember'])
    except UpstreamError as err:
        module.fail_json(msg=f"{name}={state} refused, nothing changed: {err}")
    # An empty record is not written where there was none.
    new_record_text = _dump_record(new_record) if new_record or old_record_text else old_record_text
    site_changed = new_site != site_text
    changed = site_changed or new_record_text != old_record_text
    result = {'changed': changed, 'site_changed': site_changed, 'previous_state': previous,
              'line': _line_of(new_site, name),
              'diff': [{'before_header': site, 'after_header': site, 'before': site_text, 'after': new_site},
                       {'before_header': record_path, 'after_header': record_path,
                        'before': old_record_text, 'after': new_record_text}]}
    if not changed or module.check_mode:
        module.exit_json(**result)

    if site_changed:
        if module.params['validate']:
            fd, candidate = tempfile.mkstemp(dir=module.tmpdir, suffix='.conf')
            with os.fdopen(fd, 'w', encoding='utf-8') as out:
                out.write(new_site)
            rc, out, err = module.run_command(shlex.split(module.params['validate'] % candidate))
            if rc != 0:
                module.fail_json(msg=f"{name}={state} refused by validate, nothing changed", rc=rc, stdout=out, stderr=err)
        _write(module, site, new_site, os.stat(site).st_mode & 0o7777)
    # Recorded once the site passed validation, so a refused change leaves no trace; an unchanged
    # record (a deploy's drain, which is not remembered) is not touched, nor created empty.
    if new_record_text != old_record_text:
        _write(module, record_path, new_record_text, 0o644)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
