import math

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings, strategies as st

from ansible_collections.koinonia.fleet.plugins.filter import pool_plan as plugin
from ansible_collections.koinonia.fleet.plugins.filter.pool_plan import pool_plan

FAST = settings(max_examples=200, deadline=None)

FLEET = {'backends': 3, 'processes_per_backend': 2, 'connection_limit': 5, 'postgres_max_connections': 100}
# The scaling plan's seed PgBouncer settings (server_lifetime 3600 is not the filter's business).
SEED = {'max_client_conn': 1000, 'default_pool_size': 30, 'min_pool_size': 10,
        'reserve_pool_size': 5, 'reserve_pool_timeout': 3, 'max_db_connections': 100}
SETTINGS = ('max_client_conn', 'default_pool_size', 'min_pool_size', 'reserve_pool_size',
            'reserve_pool_timeout', 'max_db_connections', 'max_user_connections', 'nofile')


def refusal(data):
    with pytest.raises(AnsibleFilterError) as excinfo:
        pool_plan(data)
    return str(excinfo.value)


def assert_invariants(out):
    inst, pools = out['pgbouncer_instances'], out['pools']
    avail = (out['postgres_max_connections'] - out['postgres_reserved_connections'] - out['postgres_other_connections']
             - out['migration_connections'] - out['monitoring_connections'])
    assert out['postgres_available'] == avail >= 1
    assert out['client_connections'] == (out['backends'] * (out['processes_per_backend'] + out['reload_surge'])
                                         * out['connection_limit'])
    caps = [out['default_pool_size'] + out['reserve_pool_size']]
    caps += [out[k] for k in ('max_db_connections', 'max_user_connections') if out[k] > 0]
    assert out['server_connections'] == inst * pools * min(caps) <= avail
    for key in ('max_db_connections', 'max_user_connections'):
        assert out[key] * inst <= avail
    assert out['client_connections'] <= out['max_client_conn'] * inst
    assert out['nofile'] >= out['max_client_conn'] + out['server_connections'] // inst  # every pool at its cap
    assert 0 <= out['min_pool_size'] <= out['default_pool_size']
    assert out['default_pool_size'] >= 1


def test_filter_module_exports_pool_plan():
    assert plugin.FilterModule().filters() == {'pool_plan': pool_plan}


def test_documentation_is_yaml():
    yaml = pytest.importorskip('yaml')
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc['name'] == 'pool_plan'
    yaml.safe_load(plugin.EXAMPLES)
    yaml.safe_load(plugin.RETURN)


def test_computed_plan_for_the_seed_fleet():
    out = pool_plan(FLEET)
    assert out == {
        **FLEET,
        'pgbouncer_instances': 1, 'postgres_reserved_connections': 3, 'postgres_other_connections': 0,
        'migration_connections': 1, 'monitoring_connections': 0,
        'pools': 1, 'reload_surge': 1, 'postgres_cores': None, 'postgres_spindles': 0,
        'max_client_conn': 1000, 'default_pool_size': 45, 'min_pool_size': 10, 'reserve_pool_size': 5,
        'reserve_pool_timeout': 3, 'max_db_connections': 96, 'max_user_connections': 0, 'nofile': 1152,
        'client_connections': 45, 'server_connections': 50, 'postgres_available': 96,
        'database_connections': {}, 'servers': {},
    }
    assert_invariants(out)


def test_seed_pinned_against_max_connections_100_is_refused_by_the_guard_rail():
    message = refusal({**FLEET, **SEED})
    assert 'max_db_connections=100' in message
    assert 'postgres_max_connections=100' in message
    assert 'postgres_reserved_connections=3' in message
    assert 'postgres_available=96' in message
    assert 'migration_connections=1' in message  # prisma migrate's direct connection is budgeted
    assert 'at most 96' in message  # the knob and the value to set
    # It is the guard rail, not the pool sizes, that does not fit.
    assert 'server_connections' not in message


@pytest.mark.parametrize('max_db', [0, None, 96])
def test_seed_with_max_db_connections_zero_or_computed_is_accepted(max_db):
    data = {**FLEET, **SEED}
    if max_db is None:
        del data['max_db_connections']
    else:
        data['max_db_connections'] = max_db
    out = pool_plan(data)
    assert out['server_connections'] == 35
    assert (out['max_client_conn'], out['default_pool_size'], out['min_pool_size'],
            out['reserve_pool_size'], out['reserve_pool_timeout']) == (1000, 30, 10, 5, 3)
    assert out['max_db_connections'] == (96 if max_db is None else max_db)
    assert_invariants(out)


@pytest.mark.parametrize('backends', [3, 4])
def test_computed_defaults_reproduce_the_seed_fixed_settings(backends):
    out = pool_plan({**FLEET, 'backends': backends})
    assert (out['max_client_conn'], out['min_pool_size'], out['reserve_pool_size'],
            out['reserve_pool_timeout']) == (1000, 10, 5, 3)
    assert out['client_connections'] == backends * 3 * 5


def test_max_client_conn_grows_with_demand_in_steps_of_100():
    out = pool_plan({**FLEET, 'backends': 40, 'processes_per_backend': 8, 'postgres_max_connections': 500})
    assert out['client_connections'] == 40 * 9 * 5 == 1800
    assert out['max_client_conn'] == 3600
    out = pool_plan({**FLEET, 'backends': 40, 'processes_per_backend': 8, 'pgbouncer_instances': 3,
                     'postgres_max_connections': 500})
    assert out['max_client_conn'] == 1200  # 2 * ceil(1800 / 3) = 1200
    assert out['nofile'] % 128 == 0


def test_wiki_target_is_shared_by_all_instances_and_pools():
    out = pool_plan({**FLEET, 'postgres_cores': 4, 'postgres_spindles': 1, 'pgbouncer_instances': 3})
    # (4 * 2 + 1) = 9 active connections shared by 3 pools -> 3 each.
    assert out['default_pool_size'] == 3
    assert_invariants(out)


def test_several_instances_and_pools_split_the_budget():
    out = pool_plan({**FLEET, 'pgbouncer_instances': 2, 'pools': 2, 'postgres_other_connections': 5})
    assert out['postgres_available'] == 91
    assert out['max_db_connections'] == 22  # each of 2 x 2 pools gets a quarter
    assert out['default_pool_size'] + out['reserve_pool_size'] <= 91 // 4
    assert_invariants(out)


def test_tiny_budget_shrinks_the_computed_reserve():
    out = pool_plan({**FLEET, 'postgres_max_connections': 8})
    assert (out['default_pool_size'], out['reserve_pool_size'], out['server_connections']) == (1, 3, 4)
    assert_invariants(out)


def test_pinned_pool_size_shrinks_the_computed_reserve_to_fit():
    out = pool_plan({**FLEET, 'default_pool_size': 94})
    assert out['reserve_pool_size'] == 2
    assert out['server_connections'] == 96


def test_reserve_pool_timeout_may_be_a_float():
    assert pool_plan({**FLEET, 'reserve_pool_timeout': 0.5})['reserve_pool_timeout'] == 0.5


def test_none_means_compute():
    assert pool_plan({**FLEET, 'default_pool_size': None, 'postgres_cores': None}) == pool_plan(FLEET)


def test_all_violations_are_reported_together_one_per_line():
    message = refusal({**FLEET, 'pgbouncer_instances': 3, 'max_client_conn': 10, 'nofile': 40, **{
        'default_pool_size': 30, 'reserve_pool_size': 5, 'min_pool_size': 31, 'max_db_connections': 100}})
    lines = message.splitlines()
    assert lines[0] == 'pool_plan refused:'
    for knob in ('server_connections=105', 'max_db_connections=100 x pgbouncer_instances=3 = 300',
                 'client_connections=45', 'nofile=40', 'min_pool_size=31'):
        assert sum(knob in line for line in lines[1:]) == 1, knob
    assert len(lines) == 6


@pytest.mark.parametrize('change, expected', [
    ({'backends': None}, 'missing required key(s) backends'),
    ({'postgres_max_connections': None}, 'missing required key(s) postgres_max_connections'),
    ({'backend': 3}, 'unknown key(s) backend'),
    ({'max_client_connections': 10}, 'unknown key(s) max_client_connections'),
    ({'backends': True}, 'backends must be an integer, got bool True'),
    ({'default_pool_size': False}, 'default_pool_size must be an integer, got bool False'),
    ({'reserve_pool_timeout': True}, 'reserve_pool_timeout must be a number, got bool True'),
    ({'reserve_pool_timeout': float('nan')}, 'reserve_pool_timeout must be a finite number'),
    ({'reserve_pool_timeout': -1}, 'reserve_pool_timeout must be >= 0, got -1'),
    ({'connection_limit': '5'}, "connection_limit must be an integer, got str '5' (use '| int')"),
    ({'connection_limit': 5.0}, 'connection_limit must be an integer, got float 5.0'),
    ({'backends': 0}, 'backends must be >= 1, got 0'),
    ({'processes_per_backend': 0}, 'processes_per_backend must be >= 1, got 0'),
    ({'pgbouncer_instances': 0}, 'pgbouncer_instances must be >= 1, got 0'),
    ({'pools': 0}, 'pools must be >= 1, got 0'),
    ({'reload_surge': -1}, 'reload_surge must be >= 0, got -1'),
    ({'postgres_reserved_connections': -1}, 'postgres_reserved_connections must be >= 0, got -1'),
    ({'postgres_cores': 0}, 'postgres_cores must be >= 1, got 0'),
    ({'default_pool_size': 0}, 'default_pool_size must be >= 1, got 0'),
    ({'max_db_connections': -1}, 'max_db_connections must be >= 0, got -1'),
    ({'postgres_reserved_connections': 60, 'postgres_other_connections': 40},
     'postgres_available=-1 on postgres (postgres_max_connections=100 - postgres_reserved_connections=60'),
    ({'postgres_max_connections': 6, 'pools': 3},
     'cannot give each of pgbouncer_instances=1 x 3 pool(s) on postgres even one server connection'),
    ({'postgres_max_connections': 9, 'reserve_pool_size': 5}, 'lower reserve_pool_size to at most 4'),
    ({'default_pool_size': 93, 'reserve_pool_size': 5, 'max_db_connections': 0},
     'server_connections=98'),
    ({'max_user_connections': 98}, 'max_user_connections=98 x pgbouncer_instances=1 = 98 exceeds'),
    ({'max_db_connections': 50, 'pgbouncer_instances': 2}, 'set max_db_connections to at most 48'),
    ({'backends': 30, 'max_client_conn': 400}, 'raise max_client_conn to at least 450'),
    ({'nofile': 1024}, 'raise nofile to at least 1050 (or omit it: the plan computes 1152)'),
    ({'min_pool_size': 50}, 'min_pool_size=50 exceeds default_pool_size=45'),
    ({'client_connections': 40}, 'client_connections=40 was given but the plan derives 45'),
    ({'postgres_available': 100}, 'postgres_available=100 was given but the plan derives 96'),
])
def test_refusals_name_the_values_and_the_knob(change, expected):
    data = {**FLEET, **change}
    data = {k: v for k, v in data.items() if not (v is None and k in FLEET)}
    assert expected in refusal(data)


def test_wrapped_types_are_named_by_their_builtin_type():
    class _AnsibleTaggedStr(str):
        pass
    assert "got str '5' (use '| int')" in refusal({**FLEET, 'connection_limit': _AnsibleTaggedStr('5')})


@pytest.mark.parametrize('data', [None, [], 'backends=3', 42])
def test_refuses_non_dict_input(data):
    assert 'expects a dict' in refusal(data)


# ---------------------------------------------------------------- properties

fleets = st.fixed_dictionaries(
    {'backends': st.integers(1, 12), 'processes_per_backend': st.integers(1, 16),
     'connection_limit': st.integers(1, 30), 'postgres_max_connections': st.integers(1, 1000)},
    optional={'pgbouncer_instances': st.integers(1, 6), 'postgres_reserved_connections': st.integers(0, 10),
              'postgres_other_connections': st.integers(0, 20), 'pools': st.integers(1, 5),
              'reload_surge': st.integers(0, 3), 'postgres_cores': st.none() | st.integers(1, 64),
              'postgres_spindles': st.integers(0, 8)})
pins = st.fixed_dictionaries({}, optional={
    'max_client_conn': st.integers(1, 5000), 'default_pool_size': st.integers(1, 200),
    'min_pool_size': st.integers(0, 20), 'reserve_pool_size': st.integers(0, 20),
    'reserve_pool_timeout': st.integers(0, 10) | st.floats(0, 10, allow_nan=False),
    'max_db_connections': st.integers(0, 300), 'max_user_connections': st.integers(0, 300),
    'nofile': st.integers(1, 10000)})


@FAST
@given(fleets)
def test_computed_plan_is_accepted_exactly_when_every_pool_gets_a_connection(fleet):
    available = (fleet['postgres_max_connections'] - fleet.get('postgres_reserved_connections', 3)
                 - fleet.get('postgres_other_connections', 0) - 1)
    pools = fleet.get('pgbouncer_instances', 1) * fleet.get('pools', 1)
    if available >= pools:
        assert_invariants(pool_plan(fleet))
    else:
        with pytest.raises(AnsibleFilterError):
            pool_plan(fleet)


@FAST
@given(fleets, pins)
def test_accepted_plans_keep_the_invariants_and_are_idempotent(fleet, pinned):
    data = {**fleet, **pinned}
    try:
        out = pool_plan(data)
    except AnsibleFilterError as error:
        assert str(error).startswith('pool_plan')
        return
    assert_invariants(out)
    assert {k: out[k] for k in data} == data  # every input survives, defaults filled in
    assert set(SETTINGS) <= set(out)
    assert pool_plan(dict(data)) == out  # deterministic
    assert pool_plan(out) == out  # feeding the plan back in (everything pinned) changes nothing


@FAST
@given(fleets, st.sampled_from(sorted(set(plugin._KNOWN) - {'client_connections', 'server_connections',
                                                            'postgres_available', 'database_connections',
                                                            'servers', 'databases', 'auth_user'})), st.booleans())
def test_bools_are_refused_wherever_numbers_are_expected(fleet, key, flag):
    message = refusal({**fleet, key: flag})
    assert f'{key} must be' in message and 'bool' in message


@FAST
@given(fleets)
def test_guard_rail_above_available_is_always_refused_with_its_numbers(fleet):
    available = (fleet['postgres_max_connections'] - fleet.get('postgres_reserved_connections', 3)
                 - fleet.get('postgres_other_connections', 0) - 1)
    instances = fleet.get('pgbouncer_instances', 1)
    too_many = available // instances + 1 if available >= 1 else 1
    message = refusal({**fleet, 'max_db_connections': too_many})
    if available >= instances * fleet.get('pools', 1):
        assert f'max_db_connections={too_many} x pgbouncer_instances={instances}' in message
        assert f'postgres_available={available}' in message


def test_ceil_helper_matches_math():
    for value in range(0, 500):
        for multiple in (100, 128):
            assert plugin._round_up(value, multiple) == math.ceil(value / multiple) * multiple


# ------------------------------------------------ every pool on every PostgreSQL server

PRIMARY = {'name': 'koinonia', 'host': '10.0.0.31', 'port': 5432, 'dbname': 'koinonia'}
READ_ONLY_ON_PRIMARY = {**PRIMARY, 'name': 'koinonia_ro'}
READ_ONLY_ON_REPLICA = {**READ_ONLY_ON_PRIMARY, 'host': '10.0.0.32'}


@pytest.mark.parametrize('vcpus', [2, 4, 8])
def test_two_aliases_on_one_server_share_it(vcpus):
    """The app_tier topology (no replica): both aliases land on the primary. Before, each got
    max_db_connections 97 and PgBouncer could open 100, 160, 194 connections against 97."""
    out = pool_plan({**FLEET, 'processes_per_backend': vcpus, 'databases': [PRIMARY, READ_ONLY_ON_PRIMARY]})
    assert out['database_connections'] == {'koinonia': 48, 'koinonia_ro': 48}
    server = out['servers']['10.0.0.31:5432']
    assert server['databases'] == ['koinonia', 'koinonia_ro']
    assert server['server_connections'] == 96 == server['available'] == out['postgres_available']
    assert out['pools'] == 2


def test_a_replica_takes_the_read_alias_and_no_migrations():
    out = pool_plan({**FLEET, 'monitoring_connections': 2, 'databases': [PRIMARY, READ_ONLY_ON_REPLICA]})
    assert out['servers']['10.0.0.31:5432']['available'] == 100 - 3 - 2 - 1  # migrations on the primary
    assert out['servers']['10.0.0.32:5432']['available'] == 100 - 3 - 2
    assert out['database_connections'] == {'koinonia': 94, 'koinonia_ro': 94}  # the tighter server's share
    assert out['pools'] == 1


def test_auth_user_keeps_a_connection_of_each_share_for_its_lookups():
    out = pool_plan({**FLEET, 'auth_user': True, 'databases': [PRIMARY, READ_ONLY_ON_PRIMARY]})
    assert out['default_pool_size'] + out['reserve_pool_size'] == 48 - 1
    assert out['servers']['10.0.0.31:5432']['server_connections'] <= 96


def test_an_oversubscribed_server_is_refused_by_name():
    message = refusal({**FLEET, 'default_pool_size': 45, 'reserve_pool_size': 5, 'max_db_connections': 0,
                       'databases': [PRIMARY, READ_ONLY_ON_PRIMARY]})
    assert 'server_connections=100 on 10.0.0.31:5432' in message
    assert '2 pool(s) koinonia, koinonia_ro' in message
    assert 'at most 48 per pool' in message


def test_databases_and_auth_user_are_checked_all_at_once():
    message = refusal({**FLEET, 'auth_user': 'yes', 'pools': 3, 'databases': [
        {'name': 'a b', 'host': '10.0.0.31'}, {'name': 'x', 'port': 0}, 'koinonia', PRIMARY, PRIMARY]})
    for expected in ("auth_user must be a boolean, got str 'yes'", "databases[0].name must be letters",
                     'databases[1].host must be a non-empty string', 'databases[1].port must be between 1 and 65535',
                     'databases[2] must be a dict', 'databases[4].name koinonia is listed twice',
                     'pools=3 was given with databases'):
        assert expected in message, expected
    assert 'must be a non-empty list' in refusal({**FLEET, 'databases': []})


aliases = st.lists(st.tuples(st.sampled_from(['10.0.0.31', '10.0.0.32']), st.sampled_from([5432, 6543])),
                   min_size=1, max_size=4)


@FAST
@given(fleets.map(lambda fleet: {k: v for k, v in fleet.items() if k != 'pools'}), aliases, st.booleans(), pins)
def test_no_server_is_ever_oversubscribed(fleet, targets, auth, pinned):
    databases = [{'name': f'db{i}', 'host': host, 'port': port} for i, (host, port) in enumerate(targets)]
    try:
        out = pool_plan({**fleet, **pinned, 'auth_user': auth, 'databases': databases})
    except AnsibleFilterError as error:
        assert str(error).startswith('pool_plan')
        return
    inst = out['pgbouncer_instances']
    for key, server in out['servers'].items():
        per_pool = [out['database_connections'][name] for name in server['databases']]
        if all(per_pool):  # PgBouncer enforces each of them
            assert inst * sum(per_pool) <= server['available'], key
        assert server['server_connections'] <= server['available'], key
    assert pool_plan(out) == out


def test_an_unlimited_database_cap_is_refused_with_auth_user():
    assert 'max_db_connections=0 with auth_user' in refusal(
        {**FLEET, 'auth_user': True, 'max_db_connections': 0, 'databases': [PRIMARY]})


def test_max_client_conn_covers_every_database_each_process_uses():
    # 45 clients per database, two databases: 90 connections on one PgBouncer.
    message = refusal({**FLEET, 'max_client_conn': 60, 'databases': [PRIMARY, READ_ONLY_ON_REPLICA]})
    assert 'client_connections=45 (backends=3 x (processes_per_backend=2 + reload_surge=1) x connection_limit=5) ' \
           'x 2 databases exceeds max_client_conn=60' in message
    assert 'raise max_client_conn to at least 90' in message
