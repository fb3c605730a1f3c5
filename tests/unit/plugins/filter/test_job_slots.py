"""Who ran each single-runner job in each minute, from the backends' job logs."""
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.job_slots import job_slots

JOB = 'recurring-messages'


def line(event, minute, job=JOB):
    return json.dumps({'time': 'x', 'host': 'h', 'event': event, 'job': job, 'minute': minute})


def test_one_run_per_minute_across_backends():
    logs = {'app1': [line('started', '20261130T1001'), line('finished', '20261130T1001'), line('skipped', '20261130T1002')],
            'app2': [line('skipped', '20261130T1001'), line('started', '20261130T1002'), 'plain output of the job']}
    slots = job_slots(logs, [JOB], '2026-11-30T10:00:30Z', '2026-11-30T10:03:10Z')
    assert slots['minutes'] == ['2026-11-30T10:01', '2026-11-30T10:02']
    assert slots['runs'] == {JOB: {'2026-11-30T10:01': ['app1'], '2026-11-30T10:02': ['app2']}}
    assert slots['duplicates'] == [] and slots['missed'] == []


def test_a_minute_run_twice_and_a_minute_missed():
    logs = {'app1': [line('started', '20261130T1001')], 'app2': [line('started', '20261130T1001')]}
    slots = job_slots(logs, [JOB], '2026-11-30T10:01:00Z', '2026-11-30T10:03:00Z')
    assert slots['duplicates'] == [{'job': JOB, 'minute': '2026-11-30T10:01', 'hosts': ['app1', 'app2']}]
    assert slots['missed'] == [{'job': JOB, 'minute': '2026-11-30T10:02', 'hosts': []}]


def test_runs_outside_the_window_and_other_jobs_do_not_count():
    logs = {'app1': [line('started', '20261130T0959'), line('started', '20261130T1003'),
                     line('started', '20261130T1001', 'other')]}
    slots = job_slots(logs, [JOB], '2026-11-30T10:00:00+00:00', '2026-11-30T10:02:00+00:00')
    assert slots['missed'] == [{'job': JOB, 'minute': m, 'hosts': []} for m in ('2026-11-30T10:00', '2026-11-30T10:01')]


def test_every_problem_at_once():
    with pytest.raises(AnsibleFilterError) as err:
        job_slots({'app1': 'not a list'}, 'job', 'yesterday', 5)
    message = str(err.value)
    assert 'jobs must be a list of job names' in message
    assert "since is not an ISO 8601 time: 'yesterday'" in message
    assert 'until must be an ISO 8601 time, got int 5' in message
    assert "the log of 'app1' must be a list of lines" in message
