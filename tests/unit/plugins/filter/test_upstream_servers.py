import ipaddress
import re

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings, strategies as st

from ansible_collections.koinonia.fleet.plugins.filter import upstream_servers as plugin
from ansible_collections.koinonia.fleet.plugins.filter.upstream_servers import upstream_servers

FAST = settings(max_examples=200, deadline=None)
APP1 = {'address': '10.0.0.5', 'port': 3000}
LINE = re.compile(r'server (?P<host>\S+):(?P<port>\d+) weight=(?P<weight>\d+) max_fails=(?P<fails>\d+) '
                  r'fail_timeout=(?P<timeout>\w+)(?P<flag> down| backup)?;(?: # (?P<comment>.+))?')


def refusal(*args, **kwargs):
    with pytest.raises(AnsibleFilterError) as excinfo:
        upstream_servers(*args, **kwargs)
    return str(excinfo.value)


def test_filter_module_exports_upstream_servers():
    assert plugin.FilterModule().filters() == {'upstream_servers': upstream_servers}


def test_documentation_is_yaml():
    yaml = pytest.importorskip('yaml')
    assert yaml.safe_load(plugin.DOCUMENTATION)['name'] == 'upstream_servers'
    yaml.safe_load(plugin.EXAMPLES)
    yaml.safe_load(plugin.RETURN)


def test_default_line():
    assert upstream_servers([APP1]) == ['server 10.0.0.5:3000 weight=1 max_fails=3 fail_timeout=30s;']


def test_states_names_and_order():
    lines = upstream_servers([
        {'address': '10.0.0.5', 'port': 3000, 'name': 'app1'},
        {'address': '10.0.0.6', 'port': 3000, 'name': 'app2', 'state': 'drain'},
        {'address': '10.0.0.7', 'port': 3000, 'state': 'down', 'weight': 2},
        {'address': 'fd00::8', 'port': 3000, 'state': 'backup', 'name': 'spare'},
        {'address': 'app5.internal', 'port': 3001, 'state': 'active'},
    ])
    assert lines == [
        'server 10.0.0.5:3000 weight=1 max_fails=3 fail_timeout=30s; # app1',
        'server 10.0.0.6:3000 weight=1 max_fails=3 fail_timeout=30s down; # app2 drain',
        'server 10.0.0.7:3000 weight=2 max_fails=3 fail_timeout=30s down; # 10.0.0.7 down',
        'server [fd00::8]:3000 weight=1 max_fails=3 fail_timeout=30s backup; # spare backup',
        'server app5.internal:3001 weight=1 max_fails=3 fail_timeout=30s;',
    ]


def test_filter_options_override_defaults_but_not_entries():
    lines = upstream_servers([APP1, {'address': '10.0.0.6', 'port': 3000, 'max_fails': 0, 'fail_timeout': '1m'}],
                             max_fails=1, fail_timeout=10)
    assert lines == ['server 10.0.0.5:3000 weight=1 max_fails=1 fail_timeout=10s;',
                     'server 10.0.0.6:3000 weight=1 max_fails=0 fail_timeout=1m;']


def test_null_optional_keys_mean_the_default():
    entry = {**APP1, 'weight': None, 'state': None, 'max_fails': None, 'fail_timeout': None, 'name': None}
    assert upstream_servers([entry]) == upstream_servers([APP1])


@pytest.mark.parametrize('timeout, rendered', [
    (30, '30s'), (0, '0s'), ('30s', '30s'), ('1m', '1m'), ('500ms', '500ms'), ('1h30m', '1h30m'), ('45', '45'),
])
def test_fail_timeout_forms(timeout, rendered):
    assert upstream_servers([{**APP1, 'fail_timeout': timeout}])[0].endswith(f'fail_timeout={rendered};')


@pytest.mark.parametrize('address, rendered', [
    ('::1', '[::1]'), ('[::1]', '[::1]'), ('2001:DB8:0:0::1', '[2001:db8::1]'),
    ('10.0.0.5', '10.0.0.5'), ('app1', 'app1'), ('App1.Internal', 'App1.Internal'),
])
def test_addresses(address, rendered):
    assert upstream_servers([{**APP1, 'address': address}])[0].startswith(f'server {rendered}:3000 ')


@pytest.mark.parametrize('servers, expected', [
    ([], 'the server list is empty'),
    ({'address': '10.0.0.5', 'port': 3000}, 'expects a list of dicts, got dict'),
    ('10.0.0.5:3000', 'expects a list of dicts, got str'),
    (None, 'expects a list of dicts, got NoneType'),
    (['10.0.0.5:3000'], 'servers[0] must be a dict, got str'),
    ([APP1, APP1], 'servers[1]: duplicate server 10.0.0.5:3000 (same as servers[0])'),
    ([{'address': '::1', 'port': 80}, {'address': '[0:0::1]', 'port': 80}], 'duplicate server [::1]:80'),
    ([{'address': 'App1', 'port': 80}, {'address': 'app1.', 'port': 80}], 'duplicate server app1.:80'),
    ([{**APP1, 'state': 'drained'}], "servers[0]: unknown state 'drained'; use one of active, drain, down, backup"),
    ([{**APP1, 'state': True}], 'unknown state True'),
    ([{**APP1, 'weigth': 2}], 'servers[0]: unknown key(s) weigth'),
    ([{'port': 3000}], 'servers[0]: missing required key(s) address'),
    ([{'address': '10.0.0.5'}], 'servers[0]: missing required key(s) port'),
    ([{**APP1, 'port': 0}], 'port must be between 1 and 65535, got 0'),
    ([{**APP1, 'port': 65536}], 'port must be between 1 and 65535, got 65536'),
    ([{**APP1, 'port': True}], 'port must be an integer, got bool True'),
    ([{**APP1, 'port': '3000'}], "port must be an integer, got str '3000'"),
    ([{**APP1, 'weight': 0}], 'weight must be >= 1, got 0'),
    ([{**APP1, 'weight': True}], 'weight must be an integer, got bool True'),
    ([{**APP1, 'weight': 1.5}], 'weight must be an integer, got float 1.5'),
    ([{**APP1, 'max_fails': -1}], 'max_fails must be >= 0, got -1'),
    ([{**APP1, 'max_fails': False}], 'max_fails must be an integer, got bool False'),
    ([{**APP1, 'fail_timeout': '10 s'}], "fail_timeout must be integer seconds or an NGINX time"),
    ([{**APP1, 'fail_timeout': True}], 'got bool True'),
    ([{**APP1, 'fail_timeout': -5}], 'fail_timeout must be >= 0 seconds, got -5'),
    ([{**APP1, 'fail_timeout': 1.5}], 'got float 1.5'),
    ([{**APP1, 'address': '10.0.0.256'}], "address must be a hostname, IPv4 or IPv6 address, got '10.0.0.256'"),
    ([{**APP1, 'address': 'unix:/run/app.sock'}], "got 'unix:/run/app.sock'"),
    ([{**APP1, 'address': '10.0.0.5:3000'}], "got '10.0.0.5:3000'"),
    ([{**APP1, 'address': ''}], "got ''"),
    ([{**APP1, 'name': 'app1\nserver evil:1;'}], 'name must be one word'),
    ([{**APP1, 'state': 'drain'}], 'no active server among 1'),
    ([{**APP1, 'state': 'backup'}, {'address': '10.0.0.6', 'port': 3000, 'state': 'down'}],
     'no active server among 2'),
])
def test_refusals(servers, expected):
    assert expected in refusal(servers)


@pytest.mark.parametrize('options, expected', [
    ({'max_fails': True}, 'max_fails must be an integer, got bool True'),
    ({'max_fails': -1}, 'max_fails must be >= 0, got -1'),
    ({'fail_timeout': 'soon'}, "got str 'soon'"),
    ({'fail_timeout': False}, 'got bool False'),
])
def test_refused_filter_options(options, expected):
    assert expected in refusal([APP1], **options)


def test_all_problems_are_reported_together():
    message = refusal([APP1, APP1, {'address': 'x y', 'port': 0, 'state': 'gone'}])
    assert message.splitlines()[0] == 'upstream_servers refused:'
    assert len(message.splitlines()) == 5


# ---------------------------------------------------------------- properties

addresses = st.one_of(
    st.ip_addresses().map(str),
    st.from_regex(r'[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z]{2,6})?', fullmatch=True),
)
entries = st.fixed_dictionaries(
    {'address': addresses, 'port': st.integers(1, 65535)},
    optional={'weight': st.integers(1, 100), 'state': st.sampled_from(['active', 'drain', 'down', 'backup']),
              'max_fails': st.integers(0, 10),
              'fail_timeout': st.integers(0, 600) | st.sampled_from(['5s', '1m', '500ms']),
              'name': st.from_regex(r'[a-z][a-z0-9-]{0,8}', fullmatch=True)})


def key(entry):
    try:
        return str(ipaddress.ip_address(entry['address'])), entry['port']
    except ValueError:
        return entry['address'].lower(), entry['port']


@FAST
@given(st.lists(entries, min_size=1, max_size=8, unique_by=key))
def test_lines_follow_the_input(servers):
    if not any(s.get('state', 'active') == 'active' for s in servers):
        assert 'no active server' in refusal(servers)
        return
    lines = upstream_servers(servers)
    assert lines == upstream_servers(list(servers))  # deterministic
    assert len(lines) == len(servers)
    for entry, line in zip(servers, lines, strict=True):
        match = LINE.fullmatch(line)
        assert match, line
        state = entry.get('state', 'active')
        host = match['host']
        assert (host.startswith('[') and host.endswith(']')) is (':' in entry['address'])
        assert int(match['port']) == entry['port']
        assert int(match['weight']) == entry.get('weight', 1)
        assert int(match['fails']) == entry.get('max_fails', 3)
        timeout = entry.get('fail_timeout', '30s')
        assert match['timeout'] == (f'{timeout}s' if isinstance(timeout, int) else timeout)
        assert match['flag'] == {'active': None, 'drain': ' down', 'down': ' down', 'backup': ' backup'}[state]
        if state == 'active':
            assert match['comment'] == entry.get('name')
        else:
            assert match['comment'] == f"{entry.get('name', host)} {state}"


@FAST
@given(st.lists(entries, min_size=1, max_size=6, unique_by=key), st.data())
def test_a_duplicate_is_always_refused(servers, data):
    servers = [{**s, 'state': 'active'} for s in servers]
    copy = dict(data.draw(st.sampled_from(servers)))
    if ':' in copy['address']:
        copy['address'] = f"[{copy['address']}]"
    else:
        copy['address'] = copy['address'].upper()
    position = data.draw(st.integers(0, len(servers)))
    message = refusal(servers[:position] + [copy] + servers[position:])
    assert 'duplicate server' in message


@FAST
@given(st.lists(entries, min_size=1, max_size=6, unique_by=key),
       st.sampled_from(['weight', 'port', 'max_fails', 'fail_timeout']), st.booleans())
def test_bools_are_refused(servers, field, flag):
    servers = [{**servers[0], field: flag, 'state': 'active'}] + servers[1:]
    assert 'bool' in refusal(servers)
