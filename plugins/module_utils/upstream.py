# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NGINX upstream server lines as koinonia.fleet writes them, one definition for the
upstream_servers filter (which renders them) and the nginx_upstream module (which edits them):

    server 10.0.0.5:3000 weight=1 max_fails=3 fail_timeout=10s; # app1
    server 10.0.0.6:3000 weight=1 max_fails=3 fail_timeout=10s down; # app2 drain

Open-source NGINX has no drain: drain and down both render `down`; the comment says which.

Also the load balancer's record of ad-hoc changes (playbooks/upstreams.yml), one definition for
the upstream_states filter (which applies it to the inventory's backends) and the module (which
edits it): {"states": {NAME: STATE}, "added": [BACKEND, ...], "removed": [NAME, ...]}.

Refusals raise UpstreamError listing every problem; the filters turn it into AnsibleFilterError,
the module into a failed task.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import (
    check_keys, kind, number_error, url_host)

STATES = ('active', 'drain', 'down', 'backup')
FLAGS = {'active': '', 'drain': ' down', 'down': ' down', 'backup': ' backup'}

# server HOST:PORT weight=W max_fails=F fail_timeout=T[ down| backup]; [# LABEL[ STATE]]
_LINE = re.compile(r'^(?P<indent>\s*)server (?P<target>\S+:\d+) weight=(?P<weight>\d+) max_fails=(?P<max_fails>\d+) '
                   r'fail_timeout=(?P<fail_timeout>\S+?)(?P<flag> down| backup)?;'
                   r'(?: # (?P<label>\S+)(?: (?P<state>' + '|'.join(STATES) + r'))?)?\s*$')


SERVER_KEYS = ('address', 'port', 'weight', 'state', 'max_fails', 'fail_timeout', 'name')
RECORD_KEYS = ('states', 'added', 'removed')
_NAME = re.compile(r'[^\s#;{}\'"\\]+')
_TIME = re.compile(r'(?:\d+(?:ms|s|m|h|d|w|M|y))*\d*')  # NGINX time syntax; a bare number is seconds


class UpstreamError(ValueError):
    """A refusal: `what`, then one line per problem (or `what` alone)."""

    def __init__(self, what, errors=()):
        self.what, self.errors = what, list(errors)
        super().__init__(f'{what}:\n' + '\n'.join(self.errors) if self.errors else what)


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

    Raises UpstreamError, naming the problem, when `name` labels no server line or several, when
    the state is unknown, or when the change would leave the upstream no active server.
    """
    if state not in STATES:
        raise UpstreamError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
    lines = text.split('\n')
    servers = [(i, parse_line(line)) for i, line in enumerate(lines)]
    servers = [(i, s) for i, s in servers if s is not None]
    mine = [(i, s) for i, s in servers if s['name'] == name]
    if len(mine) != 1:
        known = ', '.join(sorted(s['name'] or s['target'] for _index, s in servers)) or 'none'
        raise UpstreamError(f"{name!r} is not exactly one backend of this upstream "
                            f"({len(mine)} server lines name it; backends: {known})")
    index, server = mine[0]
    others_active = sum(s['state'] == 'active' for i, s in servers if i != index)
    if state != 'active' and not others_active:
        raise UpstreamError(f"setting {name} {state} would leave no active backend to serve")
    new = server['indent'] + server_line(server['target'], server['weight'], server['max_fails'],
                                         server['fail_timeout'], state, name)
    old = lines[index]
    lines[index] = new
    return '\n'.join(lines), server['state'], old, new


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


def render_servers(servers, max_fails=3, fail_timeout='30s'):
    """One server line per backend, in input order (the upstream_servers filter).

    Raises UpstreamError naming every problem: bad options, entries, duplicates, no active server.
    """
    errors = [e for e in (number_error('max_fails', max_fails, 0),) if e]
    default_timeout, error = _time('fail_timeout', fail_timeout)
    if error:
        errors.append(error)
    if errors:
        raise UpstreamError('upstream_servers refused (filter options)', errors)
    if isinstance(servers, (str, bytes, Mapping)) or not isinstance(servers, (list, tuple)):
        raise UpstreamError(f"upstream_servers expects a list of dicts, got {kind(servers)}")
    if not servers:
        raise UpstreamError("upstream_servers refused: the server list is empty; an upstream "
                            "needs at least one active server")

    lines, seen, active = [], {}, 0
    for index, entry in enumerate(servers):
        where = f"servers[{index}]"
        if not isinstance(entry, Mapping):
            errors.append(f"{where} must be a dict, got {kind(entry)}")
            continue
        problems = []
        missing = check_keys(entry, SERVER_KEYS, ('address', 'port'), problems)
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
        if not isinstance(state, str) or state not in FLAGS:
            problems.append(f"unknown state {state!r}; use one of {', '.join(FLAGS)}")
        name = entry.get('name')
        if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
            problems.append(f"name must be one word without # ; {{ }} or quotes (it labels the server line), got {name!r}")
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
    if errors:
        raise UpstreamError('upstream_servers refused', errors)
    return lines


def backend_key(entry):
    """What the record calls a backend: its name, or its address when it has none."""
    return str(entry.get('name') or entry.get('address'))


def record_errors(stored):
    """Every problem with a stored record, one line each."""
    if not isinstance(stored, Mapping):
        return [f"the record must be a dict, got {kind(stored)}"]
    errors = []
    unknown = sorted(str(k) for k in stored if k not in RECORD_KEYS)
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)} in the stored record; known keys are {', '.join(RECORD_KEYS)}")
    states = stored.get('states') or {}
    if not isinstance(states, Mapping):
        errors.append(f"'states' must be a dict of backend to state, got {kind(states)}")
    else:
        bad = sorted(f"{name}={state!r}" for name, state in states.items() if state not in STATES)
        if bad:
            errors.append(f"unknown state(s) {', '.join(bad)}; states are {', '.join(STATES)}")
    added = stored.get('added') or []
    if not isinstance(added, list) or not all(isinstance(a, Mapping) for a in added):
        errors.append(f"'added' must be a list of backend dicts, got {kind(added)}")
    removed = stored.get('removed') or []
    if not isinstance(removed, list) or not all(isinstance(r, (str, int)) for r in removed):
        errors.append(f"'removed' must be a list of backend names or addresses, got {kind(removed)}")
    return errors


def apply_record(backends, stored):
    """The inventory's backends with the record applied (the upstream_states filter): stored states
    set, added backends appended (an inventory backend of the same name wins), removed ones left out."""
    if not isinstance(backends, list) or not all(isinstance(b, Mapping) for b in backends):
        raise UpstreamError(f"upstream_states expects a list of dicts, got {kind(backends)}")
    errors = record_errors(stored)
    if errors:
        raise UpstreamError("upstream_states refused: " + "; ".join(errors))
    states = stored.get('states') or {}
    removed = {str(r) for r in stored.get('removed') or []}
    present = {backend_key(b) for b in backends}
    merged = [dict(b) for b in backends] + [dict(a) for a in stored.get('added') or [] if backend_key(a) not in present]
    result = []
    for entry in merged:
        key = backend_key(entry)
        if key in removed:
            continue
        if key in states:
            entry['state'] = states[key]
        result.append(entry)
    return result


def edit_record(stored, name, state, added=None, inventory=True):
    """The record after setting backend `name` to `state` ('absent' removes it, None leaves it to
    the inventory); `added` is the backend dict to record for one the inventory does not have.
    Only an inventory backend needs to be remembered as removed. Empty keys are left out."""
    states = {k: v for k, v in (stored.get('states') or {}).items() if k != name}
    added_list = [a for a in stored.get('added') or [] if backend_key(a) != name]
    removed = [r for r in stored.get('removed') or [] if str(r) != name]
    if state == 'absent':
        if inventory:
            removed.append(name)
    elif state is not None:
        states[name] = state
        if added is not None:
            added_list.append(dict(added))
    record = {'states': states, 'added': added_list, 'removed': removed}
    return {k: v for k, v in record.items() if v}


def replace_servers(text, lines):
    """The site with its block of server lines replaced by `lines` (indented like the first).

    Raises UpstreamError when the site has no server lines, or they are not one block.
    """
    rows = text.split('\n')
    found = [i for i, row in enumerate(rows) if parse_line(row) is not None]
    if not found:
        raise UpstreamError("the site has no upstream server lines written by koinonia.fleet; "
                            "render it with the nginx_lb role first")
    if found != list(range(found[0], found[-1] + 1)):
        raise UpstreamError("the site's server lines are not one block; render it with the nginx_lb role")
    indent = parse_line(rows[found[0]])['indent']
    return '\n'.join(rows[:found[0]] + [indent + line for line in lines] + rows[found[-1] + 1:])
