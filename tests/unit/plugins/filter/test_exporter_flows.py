"""Firewall flows for the exporters (plugins/filter/exporter_flows.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.exporter_flows import exporter_flows
from ansible_collections.koinonia.fleet.plugins.filter.firewall_rules import firewall_rules

FLEET = [{"name": "node", "group": "all", "port": 9100}, {"name": "redis", "group": "redis", "port": 9121}]


def test_one_flow_per_exporter_from_the_monitoring_groups_only():
    assert exporter_flows(FLEET, ["monitoring"], ["10.9.0.0/24"]) == [
        {"name": "node exporter", "to": "all", "ports": [9100], "from": ["monitoring"], "sources": ["10.9.0.0/24"]},
        {"name": "redis exporter", "to": "redis", "ports": [9121], "from": ["monitoring"], "sources": ["10.9.0.0/24"]}]


def test_the_firewall_opens_each_port_on_its_group_to_the_monitoring_host_alone():
    groups = {"all": ["app1", "cache1", "mon1"], "redis": ["cache1"], "monitoring": ["mon1"]}
    hostvars = {h: {"fleet_private_ip": ip} for h, ip in
                (("app1", "10.0.0.21"), ("cache1", "10.0.0.41"), ("mon1", "10.0.0.50"))}
    flows = exporter_flows(FLEET, ["monitoring"])
    cache = firewall_rules(flows, groups, hostvars, "cache1")
    app = firewall_rules(flows, groups, hostvars, "app1")
    assert sorted(r["ports"][0] for r in cache) == [9100, 9121]
    assert [r["ports"] for r in app] == [[9100]]
    assert all(r["ipv4"] == ["10.0.0.50"] for r in cache + app), cache + app


@pytest.mark.parametrize("args, message", [
    ((FLEET, "monitoring"), "from_groups must be a list of strings"),
    ((FLEET, ["monitoring"], [""]), "sources must be a list of strings"),
    (([{"name": "node", "group": "all"}], ["monitoring"]), "exporter 'node': port None"),
])
def test_bad_input_is_refused(args, message):
    with pytest.raises(AnsibleFilterError, match="exporter_flows refused") as error:
        exporter_flows(*args)
    assert message in str(error.value)


def test_an_app_with_workers_is_refused():
    app = [{"name": "app", "group": "backends", "port": 9464, "workers_var": "n"}]
    with pytest.raises(AnsibleFilterError, match="workers_var is for an app's own metrics"):
        exporter_flows(app, ["monitoring"])
