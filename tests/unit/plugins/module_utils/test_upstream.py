"""The server lines the upstream_servers filter renders and the nginx_upstream module edits."""
import pytest

from ansible_collections.koinonia.fleet.plugins.filter.upstream_servers import upstream_servers
from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import parse_line, set_state

BACKENDS = [{'name': 'app1', 'address': '10.0.0.21', 'port': 3000},
            {'name': 'app2', 'address': '10.0.0.22', 'port': 3000},
            {'name': 'app3', 'address': 'fd00::23', 'port': 3000, 'state': 'backup'}]


def site(backends=BACKENDS):
    lines = upstream_servers(backends, max_fails=3, fail_timeout='10s')
    return "upstream koinonia_backend {\n    least_conn;\n" + "".join(f"    {line}\n" for line in lines) + \
        "}\n\nserver {\n    listen 80;\n}\n"


@pytest.mark.parametrize('state', ['active', 'drain', 'down', 'backup'])
def test_an_edited_line_is_what_the_filter_renders_for_that_state(state):
    text, previous, _, new = set_state(site(), 'app2', state)
    assert previous == 'active'
    expected = site([BACKENDS[0], dict(BACKENDS[1], state=state), BACKENDS[2]])
    assert text == expected
    assert new.strip() in expected


def test_parse_reads_every_rendered_line_back():
    for backend, line in zip(BACKENDS, upstream_servers(BACKENDS, fail_timeout='10s')):
        fields = parse_line('    ' + line)
        assert fields['name'] == backend['name'] and fields['state'] == backend.get('state', 'active')
    assert parse_line('server {') is None and parse_line('    listen 80;') is None


def test_putting_a_backup_server_back_keeps_it_backup():
    text, previous, _, _ = set_state(site(), 'app3', 'drain')
    assert previous == 'backup'
    text, previous, _, _ = set_state(text, 'app3', 'backup')
    assert previous == 'drain' and text == site()


def test_the_last_active_backend_is_refused():
    text, _, _, _ = set_state(site(), 'app1', 'drain')
    with pytest.raises(ValueError, match='no active backend'):
        set_state(text, 'app2', 'down')
    assert set_state(text, 'app1', 'active')[0] == site()  # enabling is always allowed


@pytest.mark.parametrize('name', ['app9', 'app'])
def test_an_unknown_backend_is_refused_with_the_known_ones(name):
    with pytest.raises(ValueError, match=r"backends: app1, app2, app3"):
        set_state(site(), name, 'drain')


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match='unknown state'):
        set_state(site(), 'app1', 'sleeping')
