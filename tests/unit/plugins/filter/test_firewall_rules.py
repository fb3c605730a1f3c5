import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.firewall_rules import firewall_rules

GROUPS = {'loadbalancers': ['lb1'], 'backends': ['app1', 'app2'], 'pgbouncer': ['db1'], 'redis': ['cache1']}
HOSTVARS = {'lb1': {'fleet_private_ip': '10.0.0.10'}, 'app1': {'fleet_private_ip': '10.0.0.21'},
            'app2': {'fleet_private_ip': 'fd00::22'}, 'db1': {'fleet_private_ip': '10.0.0.31'},
            'cache1': {'fleet_private_ip': '10.0.0.41'}}
FLOWS = [
    {'name': 'https', 'to': 'loadbalancers', 'ports': [443, 80], 'from': 'any'},
    {'name': 'app', 'to': 'backends', 'ports': [3000], 'from': ['loadbalancers', 'monitoring'],
     'sources': ['192.0.2.7', '10.0.0.10/32']},
    {'name': 'pgbouncer', 'to': 'pgbouncer', 'ports': [6432], 'from': ['backends']},
    {'name': 'redis', 'to': 'redis', 'ports': [6379], 'from': ['backends']},
]


def rules(host, flows=None):
    return firewall_rules(FLOWS if flows is None else flows, GROUPS, HOSTVARS, host)


def refusal(flows):
    with pytest.raises(AnsibleFilterError) as excinfo:
        firewall_rules(flows, GROUPS, HOSTVARS, 'app1')
    return str(excinfo.value)


def test_a_backend_opens_the_app_port_to_the_load_balancers_and_the_extra_sources_only():
    assert rules('app1') == [{'name': 'app', 'ports': [3000], 'any': False, 'ipv4': ['10.0.0.10', '192.0.2.7'],
                              'ipv6': []}]


def test_the_load_balancer_is_open_to_everyone_on_its_public_ports():
    assert rules('lb1') == [{'name': 'https', 'ports': [80, 443], 'any': True, 'ipv4': [], 'ipv6': []}]


def test_sources_are_split_by_family():
    assert rules('db1') == [{'name': 'pgbouncer', 'ports': [6432], 'any': False, 'ipv4': ['10.0.0.21'],
                             'ipv6': ['fd00::22']}]


def test_a_host_in_no_target_group_opens_nothing():
    assert rules('nobody') == []


def test_a_flow_with_no_source_is_left_out():
    assert rules('app1', [{'name': 'metrics', 'to': 'backends', 'ports': [9100], 'from': ['monitoring']}]) == []


def test_every_problem_is_reported_at_once():
    message = refusal([
        {'name': 'bad;name', 'to': 'backends', 'ports': [0, 'x'], 'from': ['loadbalancers'], 'sources': ['not-an-ip']},
        {'name': 'ok', 'to': '', 'ports': [], 'from': 'everyone', 'colour': 'red'},
        'flow',
    ])
    for expected in ("flows[0].name must be", "flows[0].ports[0] must be between 1 and 65535, got 0",
                     "flows[0].ports[1] must be an integer, got str 'x'", "flows[0].sources: 'not-an-ip' is not",
                     "flows[1]: unknown key(s) colour", "flows[1].to must be a group name",
                     "flows[1].ports must be a non-empty list", "flows[1].from must be a list of groups or 'any'",
                     "flows[2] must be a dict"):
        assert expected in message, expected


def test_a_source_host_without_an_address_is_refused_by_name():
    hostvars = {**HOSTVARS, 'lb1': {}}
    with pytest.raises(AnsibleFilterError, match=r"host lb1 \(group loadbalancers\) has no usable fleet_private_ip"):
        firewall_rules(FLOWS, GROUPS, hostvars, 'app1')


@pytest.mark.parametrize('flows', [None, 'flows', {'name': 'x'}])
def test_refuses_anything_but_a_list(flows):
    with pytest.raises(AnsibleFilterError, match='expects a list of flows'):
        firewall_rules(flows, GROUPS, HOSTVARS, 'app1')
