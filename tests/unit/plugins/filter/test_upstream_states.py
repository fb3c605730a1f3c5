import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.upstream_states import upstream_states

BACKENDS = [
    {'name': 'app1', 'address': '10.0.0.21', 'port': 3000},
    {'name': 'app2', 'address': '10.0.0.22', 'port': 3000},
    {'address': '10.0.0.23', 'port': 3000},
]


def test_empty_record_changes_nothing():
    assert upstream_states(BACKENDS, {}) == BACKENDS


def test_stored_state_wins_over_inventory():
    out = upstream_states(BACKENDS, {'states': {'app2': 'drain', '10.0.0.23': 'down'}})
    assert [b.get('state') for b in out] == [None, 'drain', 'down']


def test_enable_sets_active_back():
    out = upstream_states([dict(BACKENDS[1], state='drain')], {'states': {'app2': 'active'}})
    assert out[0]['state'] == 'active'


def test_added_appended_once_and_removed_left_out():
    record = {'added': [{'name': 'app4', 'address': '10.0.0.24', 'port': 3000},
                        {'name': 'app1', 'address': '10.9.9.9', 'port': 1}],
              'removed': ['app2']}
    out = upstream_states(BACKENDS, record)
    assert [b.get('name', b['address']) for b in out] == ['app1', '10.0.0.23', 'app4']
    assert out[0]['address'] == '10.0.0.21'


def test_input_not_modified():
    backends = [dict(b) for b in BACKENDS]
    upstream_states(backends, {'states': {'app1': 'down'}})
    assert backends == BACKENDS


@pytest.mark.parametrize('record, fragment', [
    ({'states': {'app1': 'sleeping'}}, "app1='sleeping'"),
    ({'statez': {}}, 'unknown key(s) statez'),
    ({'added': 'app4'}, "'added' must be a list"),
    ({'states': ['app1']}, "'states' must be a dict"),
    ({'removed': 'app2'}, "'removed' must be a list"),
    ({'removed': [{'name': 'app2'}]}, "'removed' must be a list"),
])
def test_refusals_name_the_bad_value(record, fragment):
    with pytest.raises(AnsibleFilterError, match='upstream_states refused') as err:
        upstream_states(BACKENDS, record)
    assert fragment in str(err.value)


def test_not_a_list():
    with pytest.raises(AnsibleFilterError, match='expects a list of dicts'):
        upstream_states('app1', {})


def test_every_problem_is_reported_at_once():
    with pytest.raises(AnsibleFilterError) as err:
        upstream_states(BACKENDS, {'statez': 1, 'states': {'app1': 'asleep'}, 'added': 'x', 'removed': 3})
    for fragment in ('unknown key(s) statez', "app1='asleep'", "'added' must be", "'removed' must be"):
        assert fragment in str(err.value)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10)
RECORDS = st.dictionaries(st.sampled_from(['states', 'added', 'removed', 'other']), JSON, max_size=4)


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_any_json_record_is_applied_or_refused_never_a_raw_exception(record):
    try:
        result = upstream_states(BACKENDS, record)
    except AnsibleFilterError:
        return
    assert isinstance(result, list) and all(isinstance(entry, dict) for entry in result)
