"""The exporters one host runs (plugins/filter/host_exporters.py) and the checks every exporter
filter shares (plugins/module_utils/exporters.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.host_exporters import host_exporters

FLEET = [{"name": "node", "group": "all", "port": 9100},
         {"name": "postgres", "group": "postgresql", "port": 9187},
         {"name": "pgbouncer", "group": "pgbouncer", "port": "9127"}]


def test_a_host_runs_the_exporters_of_its_groups_and_of_all():
    assert host_exporters(FLEET, ["postgresql", "postgresql_primary", "pgbouncer"]) == [
        {"name": "node", "port": 9100}, {"name": "postgres", "port": 9187}, {"name": "pgbouncer", "port": 9127}]
    assert host_exporters(FLEET, ["backends"]) == [{"name": "node", "port": 9100}]
    assert host_exporters([], ["backends"]) == []


@pytest.mark.parametrize("exporters, message", [
    ({"node": 9100}, "must be a list of dicts (name, group, port), got dict"),
    (["node"], "exporter 0: must be a dict"),
    ([{"name": "Node", "group": "all", "port": 9100}], "exporter 'Node': name must be lower-case"),
    ([{"name": "node", "group": "all", "port": 9100}] * 2, "exporter 'node': given twice"),
    ([{"name": "node", "group": "", "port": 9100}], "exporter 'node': group must be an inventory group name"),
    ([{"name": "node", "group": "all", "port": 0}], "exporter 'node': port 0 is not a port"),
    ([{"name": "node", "group": "all", "port": True}], "port True is not a port"),
    ([{"name": "node", "group": "all", "port": "http"}], "port 'http' is not a port"),
    ([{"name": "node", "group": "all", "port": 9100}, {"name": "redis", "group": "redis", "port": 9100}],
     "exporter 'redis': port 9100 is 'node''s already"),
    ([{"name": "node", "group": "all", "port": 9100, "listen": "0.0.0.0"}], "unknown keys ['listen']"),
])
def test_bad_exporters_are_refused_naming_the_exporter(exporters, message):
    with pytest.raises(AnsibleFilterError, match="host_exporters refused the exporters") as error:
        host_exporters(exporters, [])
    assert message in str(error.value)


def test_every_error_is_reported_at_once():
    with pytest.raises(AnsibleFilterError) as error:
        host_exporters([{"name": "a", "group": "", "port": 0}, "b"], "backends")
    assert str(error.value).count("; ") == 3, str(error.value)


def test_an_app_with_workers_is_not_an_exporter():
    app = [{"name": "app", "group": "backends", "port": 9464, "workers_var": "backend_node_pm2_instances"}]
    with pytest.raises(AnsibleFilterError, match="workers_var is for an app's own metrics"):
        host_exporters(app, ["backends"])
