"""The server lines the upstream_servers filter renders and the nginx_upstream module edits."""
import pytest

from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import (
    UpstreamError, edit_record, parse_line, render_servers, replace_servers, set_state)

BACKENDS = [{'name': 'app1', 'address': '10.0.0.21', 'port': 3000},
            {'name': 'app2', 'address': '10.0.0.22', 'port': 3000},
            {'name': 'app3', 'address': 'fd00::23', 'port': 3000, 'state': 'backup'}]


def site(backends=None):
    backends = BACKENDS if backends is None else backends
    lines = render_servers(backends, max_fails=3, fail_timeout='10s')
    return "upstream koinonia_backend {\n    least_conn;\n" + "".join(f"    {line}\n" for line in lines) + \
        "}\n\nserver {\n    listen 80;\n}\n"


@pytest.mark.parametrize('state', ['active', 'drain', 'down', 'backup'])
def test_an_edited_line_is_what_the_filter_renders_for_that_state(state):
    text, previous, _old, new = set_state(site(), 'app2', state)
    assert previous == 'active'
    expected = site([BACKENDS[0], dict(BACKENDS[1], state=state), BACKENDS[2]])
    assert text == expected
    assert new.strip() in expected


def test_parse_reads_every_rendered_line_back():
    for backend, line in zip(BACKENDS, render_servers(BACKENDS, fail_timeout="10s"), strict=True):
        fields = parse_line('    ' + line)
        assert fields['name'] == backend['name'] and fields['state'] == backend.get('state', 'active')
    assert parse_line('server {') is None and parse_line('    listen 80;') is None


def test_putting_a_backup_server_back_keeps_it_backup():
    text, previous = set_state(site(), 'app3', 'drain')[:2]
    assert previous == 'backup'
    text, previous = set_state(text, 'app3', 'backup')[:2]
    assert previous == 'drain' and text == site()


def test_the_last_active_backend_is_refused():
    text = set_state(site(), 'app1', 'drain')[0]
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


def test_replace_servers_swaps_the_block_and_refuses_a_site_it_did_not_write():
    lines = render_servers(BACKENDS[:1], fail_timeout='10s')
    assert replace_servers(site(), lines) == site(BACKENDS[:1])
    with pytest.raises(UpstreamError, match='no upstream server lines'):
        replace_servers("server {\n    listen 80;\n}\n", lines)
    split = site().replace("    server 10.0.0.22", "    # a comment\n    server 10.0.0.22")
    with pytest.raises(UpstreamError, match='not one block'):
        replace_servers(split, lines)


def test_edit_record_keeps_removals_only_for_inventory_backends():
    record = edit_record({}, 'app4', 'active', {'name': 'app4', 'address': '10.0.0.24', 'port': 3000}, inventory=False)
    assert record == {'states': {'app4': 'active'}, 'added': [{'name': 'app4', 'address': '10.0.0.24', 'port': 3000}]}
    assert edit_record(record, 'app4', 'absent', inventory=False) == {}
    assert edit_record({'states': {'app2': 'drain'}}, 'app2', 'absent') == {'removed': ['app2']}
