"""The LB's backend list from an inventory group."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.inventory_backends import inventory_backends

HOSTVARS = {'app1': {'fleet_private_ip': '10.10.0.21'}, 'app2': {'fleet_private_ip': '10.10.0.22', 'other': 'x'}}


def test_one_backend_per_host_in_the_group_order():
    assert inventory_backends(['app2', 'app1'], HOSTVARS, port=3000) == [
        {'name': 'app2', 'address': '10.10.0.22', 'port': 3000},
        {'name': 'app1', 'address': '10.10.0.21', 'port': 3000}]


def test_another_address_variable():
    assert inventory_backends(['app2'], HOSTVARS, port=3000, address_var='other')[0]['address'] == 'x'


def test_every_problem_at_once():
    with pytest.raises(AnsibleFilterError) as err:
        inventory_backends(['app1', 'app9', 'app2'], HOSTVARS, port=0, address_var='other')
    message = str(err.value)
    assert "port must be between 1 and 65535, got 0" in message
    assert "host 'app9' is not in hostvars" in message
    assert "host 'app1' has no other" in message
    assert 'app2' not in message


def test_a_string_is_not_a_group():
    with pytest.raises(AnsibleFilterError, match='list of host names, got str'):
        inventory_backends('app1', HOSTVARS, port=3000)
