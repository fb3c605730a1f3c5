from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings, strategies as st

from ansible_collections.koinonia.fleet.plugins.filter import database_url as plugin
from ansible_collections.koinonia.fleet.plugins.filter.database_url import database_url

FAST = settings(max_examples=200, deadline=None)
SECRET = 'Sup3r-s3cret-PW'
BASE = {'host': '10.0.0.10', 'database': 'koinonia', 'user': 'app', 'password': SECRET}


def refusal(data):
    with pytest.raises(AnsibleFilterError) as excinfo:
        database_url(data)
    return str(excinfo.value)


def test_filter_module_exports_database_url():
    assert plugin.FilterModule().filters() == {'database_url': database_url}


def test_documentation_is_yaml():
    yaml = pytest.importorskip('yaml')
    assert yaml.safe_load(plugin.DOCUMENTATION)['name'] == 'database_url'
    yaml.safe_load(plugin.EXAMPLES)
    yaml.safe_load(plugin.RETURN)


def test_prisma_url_through_old_pgbouncer():
    url = database_url({**BASE, 'port': 6432, 'connection_limit': 5, 'pool_timeout': 10,
                        'pgbouncer_version': '1.18.0'})
    assert url == f'postgresql://app:{SECRET}@10.0.0.10:6432/koinonia?connection_limit=5&pool_timeout=10&pgbouncer=true'


def test_direct_url_has_default_port_and_no_query():
    assert database_url(BASE) == f'postgresql://app:{SECRET}@10.0.0.10:5432/koinonia'
    assert database_url({**BASE, 'scheme': None, 'port': None}) == database_url(BASE)


@pytest.mark.parametrize('password', ['', None])
def test_empty_password_is_left_out(password):
    assert database_url({**BASE, 'password': password}) == 'postgresql://app@10.0.0.10:5432/koinonia'
    data = dict(BASE)
    del data['password']
    assert database_url(data) == 'postgresql://app@10.0.0.10:5432/koinonia'


def test_user_password_and_database_are_percent_encoded():
    url = database_url({**BASE, 'user': 'a@b:c', 'password': 'p@ss/w:rd?#%', 'database': 'my db/x'})
    assert url == 'postgresql://a%40b%3Ac:p%40ss%2Fw%3Ard%3F%23%25@10.0.0.10:5432/my%20db%2Fx'


@pytest.mark.parametrize('host, rendered', [
    ('::1', '[::1]'),
    ('[::1]', '[::1]'),
    ('2001:db8:0:0:0:0:0:1', '[2001:db8::1]'),
    ('10.0.0.10', '10.0.0.10'),
    ('db1.internal', 'db1.internal'),
    ('pgbouncer_1', 'pgbouncer_1'),
    ('localhost', 'localhost'),
])
def test_hosts(host, rendered):
    assert database_url({**BASE, 'host': host}) == f'postgresql://app:{SECRET}@{rendered}:5432/koinonia'


def test_query_parameters_are_in_a_stable_order():
    url = database_url({**BASE, 'params': {'sslmode': 'require', 'connect_timeout': 10, 'application_name': 'api'},
                        'schema': 'public', 'pgbouncer_version': '1.20', 'pool_timeout': 0,
                        'connection_limit': 3, 'scheme': 'postgres'})
    assert url.startswith('postgres://')
    assert url.split('?', 1)[1] == ('connection_limit=3&pool_timeout=0&pgbouncer=true&schema=public'
                                    '&application_name=api&connect_timeout=10&sslmode=require')


@pytest.mark.parametrize('version, prepared, flag', [
    ('1.18.0', None, True),   # Debian bookworm
    ('1.18', 0, True),
    ('1.20.1', None, True),
    ('1.21.0', None, True),   # 1.21-1.23 ship with max_prepared_statements = 0
    ('1.23.1', None, True),
    ('1.21.0', 0, True),
    ('1.21.0', 100, False),
    ('1.22', 200, False),
    ('1.24.0', None, False),  # 1.24 turned prepared statements on by default (200)
    ('1.25.1', None, False),
    ('1.24.0', 0, True),
    ('2.0', None, False),
    (None, None, False),      # not through PgBouncer
])
def test_pgbouncer_flag_follows_prismas_rule(version, prepared, flag):
    data = dict(BASE)
    if version is not None:
        data['pgbouncer_version'] = version
    if prepared is not None:
        data['max_prepared_statements'] = prepared
    assert ('pgbouncer=true' in database_url(data)) is flag


BAD = [
    ({'port': 0}, 'port must be between 1 and 65535, got 0'),
    ({'port': 65536}, 'port must be between 1 and 65535, got 65536'),
    ({'port': True}, 'port must be an integer, got bool True'),
    ({'port': '5432'}, "port must be an integer, got str '5432'"),
    ({'connection_limit': 0}, 'connection_limit must be >= 1, got 0'),
    ({'connection_limit': True}, 'connection_limit must be an integer, got bool True'),
    ({'pool_timeout': -1}, 'pool_timeout must be >= 0, got -1'),
    ({'pool_timeout': False}, 'pool_timeout must be an integer, got bool False'),
    ({'max_prepared_statements': True, 'pgbouncer_version': '1.22'},
     'max_prepared_statements must be an integer, got bool True'),
    ({'pgbouncer_version': 1.2}, 'got float 1.2'),
    ({'pgbouncer_version': '1.x'}, "got str '1.x'"),
    ({'pgbouncer_version': 'v1.18.0'}, "got str 'v1.18.0'"),
    ({'pgbouncer_version': '1'}, "got str '1'"),
    ({'pgbouncer_version': '1.18.0-1'}, "got str '1.18.0-1'"),
    ({'pgbouncer_version': True}, 'got bool True'),
    ({'max_prepared_statements': 0}, 'max_prepared_statements only applies through PgBouncer'),
    ({'pgbouncer_version': '1.18.0', 'max_prepared_statements': 100},
     "max_prepared_statements=100 needs PgBouncer 1.21 or later, but pgbouncer_version is '1.18.0'"),
    ({'host': None}, 'missing required key(s) host'),
    ({'database': None, 'user': None}, 'missing required key(s) database, user'),
    ({'user': ''}, "user must be a non-empty string, got str ''"),
    ({'database': 5}, 'database must be a non-empty string, got int 5'),
    ({'host': ''}, "host must be a hostname, IPv4 or IPv6 address, got ''"),
    ({'host': 'db host'}, "got 'db host'"),
    ({'host': '10.0.0.256'}, "got '10.0.0.256'"),
    ({'host': '[db1]'}, "got '[db1]'"),
    ({'host': '[10.0.0.1]'}, "got '[10.0.0.1]'"),
    ({'host': 'fe80::1%eth0'}, "got 'fe80::1%eth0'"),
    ({'host': 'db:5432'}, "got 'db:5432'"),
    ({'host': True}, 'got True'),
    ({'scheme': 'mysql'}, "scheme must be 'postgresql' or 'postgres', got 'mysql'"),
    ({'schema': ''}, "schema must be a non-empty string, got str ''"),
    ({'hostname': 'x'}, 'unknown key(s) hostname'),
    ({'passwd': 'x'}, 'unknown key(s) passwd'),
    ({'params': {'pgbouncer': 'true'}}, "params key 'pgbouncer' is not allowed"),
    ({'params': {'connection_limit': '5'}}, "params key 'connection_limit' is not allowed"),
    ({'params': {'sslmode': True}}, "params['sslmode'] must be a string or integer, got bool"),
    ({'params': {'options': ['a']}}, "params['options'] must be a string or integer, got list"),
    ({'params': 'sslmode=require'}, 'params must be a dict, got str'),
    ({'password': 12345678}, 'password must be a string or null, got int (value not shown)'),
]


@pytest.mark.parametrize('change, expected', BAD)
def test_refusals_name_the_bad_value(change, expected):
    data = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    message = refusal(data)
    assert expected in message
    assert SECRET not in message


@pytest.mark.parametrize('data', [None, 'postgresql://x', ['host']])
def test_refuses_non_dict_input(data):
    assert 'expects a dict' in refusal(data)


def test_all_problems_are_reported_together():
    message = refusal({**BASE, 'port': 0, 'pgbouncer_version': '1.x', 'bogus': 1})
    assert message.splitlines()[0] == 'database_url refused:'
    assert len(message.splitlines()) == 4


def test_password_of_wrong_type_is_never_shown():
    message = refusal({**BASE, 'password': 987654321})
    assert '987654321' not in message


# ---------------------------------------------------------------- properties

names = st.text(min_size=1, max_size=30)
passwords = st.text(min_size=1, max_size=30).map(lambda s: 'PW\u2603' + s)  # distinctive prefix
hosts = st.sampled_from(['10.0.0.10', 'db1.internal', '::1', 'fd00::5', 'localhost', '[2001:db8::7]'])


@FAST
@given(user=names, password=passwords, database=names, host=hosts, port=st.integers(1, 65535),
       limit=st.none() | st.integers(1, 100), timeout=st.none() | st.integers(0, 60))
def test_url_round_trips(user, password, database, host, port, limit, timeout):
    data = {'host': host, 'user': user, 'password': password, 'database': database, 'port': port}
    if limit is not None:
        data['connection_limit'] = limit
    if timeout is not None:
        data['pool_timeout'] = timeout
    url = database_url(data)
    assert url == database_url(dict(data))  # deterministic
    parts = urlsplit(url)
    assert parts.scheme == 'postgresql'
    assert unquote(parts.username) == user
    assert unquote(parts.password) == password
    assert unquote(parts.path[1:]) == database
    assert parts.port == port
    assert parts.hostname == host.strip('[]')
    expected = [(k, str(v)) for k, v in (('connection_limit', limit), ('pool_timeout', timeout)) if v is not None]
    assert parse_qsl(parts.query) == expected


@FAST
@given(password=passwords, change=st.sampled_from(BAD))
def test_password_never_appears_in_errors(password, change):
    data = {k: v for k, v in {**BASE, **change[0]}.items() if v is not None}
    if 'password' not in change[0]:
        data['password'] = password
    message = refusal(data)
    assert password not in message and 'PW\u2603' not in message


@FAST
@given(extra=st.dictionaries(st.text(min_size=1, max_size=10).filter(
    lambda k: k not in ('connection_limit', 'pool_timeout', 'pgbouncer', 'schema')),
    st.text(max_size=10) | st.integers(0, 1000), max_size=5))
def test_extra_params_are_sorted_after_the_known_ones(extra):
    url = database_url({**BASE, 'connection_limit': 5, 'schema': 's', 'params': extra})
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert query[:2] == [('connection_limit', '5'), ('schema', 's')]
    assert query[2:] == [(k, str(extra[k])) for k in sorted(extra)]


@FAST
@given(major=st.integers(0, 3), minor=st.integers(0, 40), patch=st.none() | st.integers(0, 9),
       prepared=st.none() | st.integers(0, 500))
def test_pgbouncer_flag_property(major, minor, patch, prepared):
    version = f'{major}.{minor}' + ('' if patch is None else f'.{patch}')
    data = {**BASE, 'pgbouncer_version': version}
    if prepared is not None:
        data['max_prepared_statements'] = prepared
    old = (major, minor) < (1, 21)
    if old and prepared:
        with pytest.raises(AnsibleFilterError):
            database_url(data)
        return
    effective = prepared if prepared is not None else (200 if (major, minor) >= (1, 24) else 0)
    assert ('pgbouncer=true' in database_url(data)) is (old or effective == 0)
