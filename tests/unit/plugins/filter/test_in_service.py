"""Which hosts of a group a migration phase puts in service."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.in_service import in_service

FACT = 'koinonia_backend'


def host(serving=False):
    return {'ansible_facts': {'ansible_local': {FACT: {'app': 'koinonia-api'}} if serving else {}}}


def test_the_first_hosts_of_the_group():
    hostvars = {'app1': host(True), 'app2': host(), 'app3': host()}
    assert in_service(['app1', 'app2', 'app3'], hostvars, first=2, fact=FACT) == ['app1', 'app2']


def test_a_host_already_serving_stays_when_an_earlier_phase_runs_again():
    hostvars = {'app1': host(True), 'app2': host(True), 'app3': host(True)}
    assert in_service(['app1', 'app2', 'app3'], hostvars, first=1, fact=FACT) == ['app1', 'app2', 'app3']


def test_group_order_is_kept_and_more_than_the_group_means_all():
    hostvars = {'app1': host(), 'app2': host(True), 'app3': host()}
    assert in_service(['app3', 'app2', 'app1'], hostvars, first=0, fact=FACT) == ['app2']
    assert in_service(['app3', 'app2', 'app1'], hostvars, first=99, fact=FACT) == ['app3', 'app2', 'app1']


def test_another_fact_does_not_count():
    hostvars = {'db2': {'ansible_facts': {'ansible_local': {'koinonia_backend': {}}}}}
    assert in_service(['db2'], hostvars, first=0, fact='koinonia_postgresql') == []


def test_the_first_hosts_need_no_facts():
    assert in_service(['app1', 'app2'], {'app1': {}, 'app2': host(True)}, first=1, fact=FACT) == ['app1', 'app2']


def test_every_problem_at_once():
    hostvars = {'app1': {'ansible_facts': {}}, 'app2': {}}
    with pytest.raises(AnsibleFilterError) as err:
        in_service(['app1', 'app2', 'app9'], hostvars, first=-1, fact='')
    message = str(err.value)
    assert 'first must be a whole number >= 0, got int -1' in message
    assert 'fact must name a local fact' in message
    assert "the facts of 'app1' were not gathered" in message
    assert "the facts of 'app2' were not gathered" in message
    assert "host 'app9' is not in hostvars" in message


@pytest.mark.parametrize('bad', ['app1', {'app1': 1}, None])
def test_a_string_or_dict_is_not_a_group(bad):
    with pytest.raises(AnsibleFilterError, match='expects a list of host names'):
        in_service(bad, {}, first=1, fact=FACT)


def test_a_boolean_is_not_a_count():
    with pytest.raises(AnsibleFilterError, match='first must be a whole number'):
        in_service([], {}, first=True, fact=FACT)
