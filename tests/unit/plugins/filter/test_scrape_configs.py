"""Prometheus scrape_configs from the jobs the inventory names (plugins/filter/scrape_configs.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.scrape_configs import scrape_configs


def test_one_static_config_per_target_with_its_labels_over_the_jobs():
    jobs = [{"job": "node", "labels": {"env": "prod", "host": "?"},
             "targets": [{"target": "10.0.0.21:9100", "labels": {"host": "app1"}}, "10.0.0.22:9100"]}]
    assert scrape_configs(jobs) == [{
        "job_name": "node", "metrics_path": "/metrics", "scheme": "http",
        "static_configs": [{"targets": ["10.0.0.21:9100"], "labels": {"env": "prod", "host": "app1"}},
                           {"targets": ["10.0.0.22:9100"], "labels": {"env": "prod", "host": "?"}}]}]


def test_path_scheme_and_interval_are_kept_and_a_target_without_labels_has_none():
    out = scrape_configs([{"job": "app", "targets": ["[fd00::1]:9464"], "metrics_path": "/m", "scheme": "https",
                           "scrape_interval": "1m30s"}])
    assert out == [{"job_name": "app", "metrics_path": "/m", "scheme": "https", "scrape_interval": "1m30s",
                    "static_configs": [{"targets": ["[fd00::1]:9464"]}]}]


def test_a_job_without_targets_is_left_out():
    assert scrape_configs([{"job": "postgres-replica", "targets": []}, {"job": "redis", "targets": ["r:9121"]}]) == [
        {"job_name": "redis", "metrics_path": "/metrics", "scheme": "http", "static_configs": [{"targets": ["r:9121"]}]}]


def test_label_values_become_strings():
    out = scrape_configs([{"job": "x", "targets": [{"target": "h:1", "labels": {"vcpus": 2}}]}])
    assert out[0]["static_configs"][0]["labels"] == {"vcpus": "2"}


@pytest.mark.parametrize("jobs, message", [
    ([{"job": "9node", "targets": ["h:1"]}], "job '9node': the job name must be"),
    ([{"job": "a", "targets": ["h:1"]}, {"job": "a", "targets": ["h:2"]}], "job 'a': given twice"),
    ([{"job": "a", "targets": ["h"]}], "target 'h' is not address:port"),
    ([{"job": "a", "targets": ["h:0"]}], "target 'h:0' is not address:port with a port from 1 to 65535"),
    ([{"job": "a", "targets": ["h:70000"]}], "target 'h:70000'"),
    ([{"job": "a", "targets": ["h:1", "h:1"]}], "target h:1 given twice"),
    ([{"job": "a", "targets": ["h:1"], "labels": {"__name__": "x"}}], "label name '__name__'"),
    ([{"job": "a", "targets": ["h:1"], "labels": {"bad-name": "x"}}], "label name 'bad-name'"),
    ([{"job": "a", "targets": ["h:1"], "labels": {"on": True}}], "label on must be a string, got bool"),
    ([{"job": "a", "targets": ["h:1"], "metrics_path": "metrics"}], "metrics_path 'metrics' must start with /"),
    ([{"job": "a", "targets": ["h:1"], "scheme": "ftp"}], "scheme 'ftp' must be http or https"),
    ([{"job": "a", "targets": ["h:1"], "scrape_interval": "soon"}], "scrape_interval 'soon'"),
    ([{"job": "a", "targets": "h:1"}], "targets must be a list, got str"),
    ([{"job": "a", "targets": [{"target": "h:1", "port": 2}]}], "unknown keys ['port']"),
    ([{"job": "a", "target": ["h:1"]}], "unknown keys ['target']"),
    (["node"], "job 0: must be a dict, got str"),
    ([{"job": "prometheus", "targets": ["h:1"]}], "job 'prometheus': the name is taken"),
])
def test_bad_jobs_are_refused_naming_the_job_and_the_value(jobs, message):
    with pytest.raises(AnsibleFilterError, match="scrape_configs refused the jobs") as error:
        scrape_configs(jobs)
    assert message in str(error.value)


def test_every_error_is_reported_at_once():
    with pytest.raises(AnsibleFilterError) as error:
        scrape_configs([{"job": "a", "targets": ["h"]}, {"job": "b", "targets": ["h:1"], "scheme": "ftp"}])
    assert "job 'a': target 'h'" in str(error.value) and "job 'b': scheme 'ftp'" in str(error.value)


def test_not_a_list_is_refused():
    with pytest.raises(AnsibleFilterError, match="expects a list of jobs, got dict"):
        scrape_configs({"job": "a"})
