# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NGINX upstream server lines as koinonia.fleet writes them, one definition for the
upstream_servers filter (which renders them) and the nginx_upstream module (which edits them):

    server 10.0.0.5:3000 weight=1 max_fails=3 fail_timeout=10s; # app1
    server 10.0.0.6:3000 weight=1 max_fails=3 fail_timeout=10s down; # app2 drain

Open-source NGINX has no drain: drain and down both render `down`; the comment says which.
"""
from __future__ import annotations

import re

STATES = ('active', 'drain', 'down', 'backup')
FLAGS = {'active': '', 'drain': ' down', 'down': ' down', 'backup': ' backup'}

# server HOST:PORT weight=W max_fails=F fail_timeout=T[ down| backup]; [# LABEL[ STATE]]
_LINE = re.compile(r'^(?P<indent>\s*)server (?P<target>\S+:\d+) weight=(?P<weight>\d+) max_fails=(?P<max_fails>\d+) '
                   r'fail_timeout=(?P<fail_timeout>\S+?)(?P<flag> down| backup)?;'
                   r'(?: # (?P<label>\S+)(?: (?P<state>' + '|'.join(STATES) + r'))?)?\s*$')


def server_line(target, weight, max_fails, fail_timeout, state='active', name=None):
    """One `server` line; `target` is HOST:PORT as NGINX takes it (IPv6 bracketed)."""
    label = name or target.rsplit(':', 1)[0]
    comment = f' # {label} {state}' if state != 'active' else (f' # {name}' if name else '')
    return f'server {target} weight={weight} max_fails={max_fails} fail_timeout={fail_timeout}{FLAGS[state]};{comment}'


def parse_line(line):
    """The fields of a server line written by server_line, or None for any other line."""
    match = _LINE.match(line)
    if not match:
        return None
    fields = match.groupdict()
    flag = (fields['flag'] or '').strip()
    state = fields['state'] or {'': 'active', 'down': 'down', 'backup': 'backup'}[flag]
    # Active lines carry only the name; the others "label state" (label: name or host).
    return {'indent': fields['indent'], 'target': fields['target'], 'weight': int(fields['weight']),
            'max_fails': int(fields['max_fails']), 'fail_timeout': fields['fail_timeout'], 'state': state,
            'name': fields['label']}


def set_state(text, name, state):
    """Return (new text, previous state, old line, new line) with backend `name` set to `state`.

    Raises ValueError, naming the problem, when `name` labels no server line or several, when
    the state is unknown, or when the change would leave the upstream no active server.
    """
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
    lines = text.split('\n')
    servers = [(i, parse_line(line)) for i, line in enumerate(lines)]
    servers = [(i, s) for i, s in servers if s is not None]
    mine = [(i, s) for i, s in servers if s['name'] == name]
    if len(mine) != 1:
        known = ', '.join(sorted(s['name'] or s['target'] for _, s in servers)) or 'none'
        raise ValueError(f"{name!r} is not exactly one backend of this upstream "
                         f"({len(mine)} server lines name it; backends: {known})")
    index, server = mine[0]
    others_active = sum(s['state'] == 'active' for i, s in servers if i != index)
    if state != 'active' and not others_active:
        raise ValueError(f"setting {name} {state} would leave no active backend to serve")
    new = server['indent'] + server_line(server['target'], server['weight'], server['max_fails'],
                                         server['fail_timeout'], state, name)
    old = lines[index]
    lines[index] = new
    return '\n'.join(lines), server['state'], old, new
