"""The monitoring host's scrape jobs from the fleet's exporters (plugins/filter/exporter_scrape_jobs.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.exporter_scrape_jobs import exporter_scrape_jobs
from ansible_collections.koinonia.fleet.plugins.filter.scrape_configs import scrape_configs

FLEET = [{"name": "node", "group": "all", "port": 9100}, {"name": "redis", "group": "redis", "port": 9121},
         {"name": "nginx", "group": "loadbalancers", "port": 9113}]
GROUPS = {"all": ["app1", "cache1"], "redis": ["cache1"], "backends": ["app1"]}
HOSTVARS = {"app1": {"fleet_private_ip": "10.0.0.21"}, "cache1": {"fleet_private_ip": "fd00::41"}}


def test_one_job_per_exporter_each_host_of_its_group_at_its_private_address():
    assert exporter_scrape_jobs(FLEET, GROUPS, HOSTVARS) == [
        {"job": "node", "targets": [{"target": "10.0.0.21:9100", "labels": {"host": "app1"}},
                                    {"target": "[fd00::41]:9100", "labels": {"host": "cache1"}}]},
        {"job": "redis", "targets": [{"target": "[fd00::41]:9121", "labels": {"host": "cache1"}}]},
        {"job": "nginx", "targets": []}]


def test_the_jobs_are_what_scrape_configs_takes_and_a_missing_group_is_left_out():
    assert [c["job_name"] for c in scrape_configs(exporter_scrape_jobs(FLEET, GROUPS, HOSTVARS))] == ["node", "redis"]


def test_the_address_variable_can_be_another():
    jobs = exporter_scrape_jobs(FLEET[1:2], GROUPS, {"cache1": {"vpc_ip": "10.1.0.4"}}, address_var="vpc_ip")
    assert jobs == [{"job": "redis", "targets": [{"target": "10.1.0.4:9121", "labels": {"host": "cache1"}}]}]


def test_hosts_without_an_address_and_bad_entries_are_all_refused():
    with pytest.raises(AnsibleFilterError, match="exporter_scrape_jobs refused the exporters") as error:
        exporter_scrape_jobs(FLEET + [{"name": "x", "group": "all", "port": 70000}], GROUPS, {"app1": {}})
    message = str(error.value)
    for part in ("exporter 'node': host app1 has no fleet_private_ip", "exporter 'node': host cache1 has no",
                 "exporter 'redis': host cache1 has no", "exporter 'x': port 70000"):
        assert part in message


def test_an_app_with_workers_has_one_target_per_worker_on_consecutive_ports():
    app = [{"name": "app", "group": "backends", "port": 9464, "workers_var": "workers"}]
    hostvars = {"app1": {"fleet_private_ip": "10.0.0.21", "workers": "2"}}
    assert exporter_scrape_jobs(app, GROUPS, hostvars) == [{"job": "app", "targets": [
        {"target": "10.0.0.21:9464", "labels": {"host": "app1", "worker": "0"}},
        {"target": "10.0.0.21:9465", "labels": {"host": "app1", "worker": "1"}}]}]


@pytest.mark.parametrize("workers", [None, 0, "two", True, 300])
def test_a_bad_workers_count_is_refused_naming_the_host(workers):
    app = [{"name": "app", "group": "backends", "port": 9464, "workers_var": "workers"}]
    with pytest.raises(AnsibleFilterError, match="host app1 has workers"):
        exporter_scrape_jobs(app, GROUPS, {"app1": {"fleet_private_ip": "10.0.0.21", "workers": workers}})


def test_workers_var_must_name_a_variable():
    with pytest.raises(AnsibleFilterError, match="workers_var must name a host variable"):
        exporter_scrape_jobs([{"name": "app", "group": "backends", "port": 1, "workers_var": ""}], GROUPS, HOSTVARS)
