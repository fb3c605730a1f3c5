# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import datetime
import json
from collections.abc import Mapping

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import refuse_if

DOCUMENTATION = r"""
name: job_slots
short_description: Who ran each single-runner job in each minute, from the backends' job logs
version_added: 0.1.0
description:
  - C(koinonia-locked-run) (role koinonia.fleet.health_cron) logs one JSON line per attempt to the job's log on each
    backend; C(started) means this backend took the lock and ran the job for that minute.
  - This filter reads those logs from every backend and returns, for each job of O(jobs), the backends that ran
    it in each whole minute from O(since) up to (not including) O(until), and the minutes where it ran more than
    once (C(duplicates)) or not at all (C(missed)). Phase 5's gate passes when both are empty.
  - Lines that are not JSON (a command's own output) are skipped; a bad timestamp or argument is refused, every
    problem at once.
positional: _input, jobs, since, until
options:
  _input:
    description: "Each backend's job log lines, C({host: [line, ...]}) (the logs of every job, concatenated)."
    type: dict
    required: true
  jobs:
    description: The jobs that run every minute (their names); each must run exactly once in each minute.
    type: list
    elements: str
    required: true
  since:
    description: UTC start of the window, ISO 8601; the first whole minute at or after it counts.
    type: str
    required: true
  until:
    description: UTC end of the window, ISO 8601; the minute it falls in does not count.
    type: str
    required: true
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Exactly one run per minute, fleet-wide
  ansible.builtin.assert:
    that: (slots.duplicates + slots.missed) | length == 0
  vars:
    slots: "{{ logs | koinonia.fleet.job_slots(['recurring-messages'], '2026-11-30T10:00:00Z', '2026-11-30T10:03:10Z') }}"
"""

RETURN = r"""
_value:
  description: C(runs) (job to minute C(YYYY-MM-DDTHH:MM) to the hosts that ran it), C(duplicates) and C(missed)
    (lists of C({job, minute, hosts})), and C(minutes) (the whole minutes judged).
  type: dict
  sample:
    runs: {recurring-messages: {'2026-11-30T10:01': [app2], '2026-11-30T10:02': [app1]}}
    duplicates: []
    missed: []
    minutes: ['2026-11-30T10:01', '2026-11-30T10:02']
"""


def _time(name, value, errors):
    if not isinstance(value, str):
        errors.append(f"{name} must be an ISO 8601 time, got {kind(value)} {value!r}")
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        errors.append(f"{name} is not an ISO 8601 time: {value!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def _minutes(start, end):
    minute = start.replace(second=0, microsecond=0)
    if minute < start:
        minute += datetime.timedelta(minutes=1)
    last = end.replace(second=0, microsecond=0)
    out = []
    while minute < last:
        out.append(minute.strftime('%Y-%m-%dT%H:%M'))
        minute += datetime.timedelta(minutes=1)
    return out


def _started(lines):
    for line in lines:
        try:
            event = json.loads(line)
        except (TypeError, ValueError):
            continue
        if isinstance(event, Mapping) and event.get('event') == 'started' and isinstance(event.get('minute'), str):
            yield event.get('job'), event['minute']


def job_slots(logs, jobs, since, until):
    errors = []
    if not isinstance(logs, Mapping):
        errors.append(f"the logs must be a dict of host to lines, got {kind(logs)}")
        logs = {}
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, (list, tuple)) or not all(isinstance(j, str) for j in jobs):
        errors.append(f"jobs must be a list of job names, got {kind(jobs)} {jobs!r}")
        jobs = []
    start, end = _time('since', since, errors), _time('until', until, errors)
    for host, lines in logs.items():
        if isinstance(lines, (str, bytes)) or not isinstance(lines, (list, tuple)):
            errors.append(f"the log of {host!r} must be a list of lines, got {kind(lines)}")
    refuse_if(errors, 'job_slots refused')
    minutes = _minutes(start, end)
    runs = {job: {minute: [] for minute in minutes} for job in jobs}
    for host in sorted(logs):
        for job, stamp in _started(logs[host]):
            # koinonia-locked-run writes the minute as YYYYmmddTHHMM (UTC)
            try:
                minute = datetime.datetime.strptime(stamp, '%Y%m%dT%H%M').strftime('%Y-%m-%dT%H:%M')
            except ValueError:
                continue
            if job in runs and minute in runs[job]:
                runs[job][minute].append(str(host))
    duplicates = [{'job': j, 'minute': m, 'hosts': h} for j in jobs for m, h in runs[j].items() if len(h) > 1]
    missed = [{'job': j, 'minute': m, 'hosts': []} for j in jobs for m, h in runs[j].items() if not h]
    return {'runs': runs, 'duplicates': duplicates, 'missed': missed, 'minutes': minutes}


class FilterModule:
    def filters(self):
        return {'job_slots': job_slots}
