"""The plan's alerts as Datadog monitors (plugins/filter/datadog_monitors.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.datadog_monitors import datadog_monitors

PLAN = {"error_ratio": 0.01, "p95_seconds": 0.5, "queue_backlog": 1000, "memory_ratio": 0.8,
        "replica_lag_seconds": 0.1, "window": "5m"}


def test_one_monitor_per_alert_of_the_plan_with_its_threshold():
    monitors = datadog_monitors(PLAN, "production", "koinonia-api")
    by_title = {m["name"]: m for m in monitors}
    assert sorted(by_title) == sorted([
        "[production] koinonia-api error rate",
        "[production] koinonia-api p95 latency",
        "[production] koinonia-api database pool exhausted",
        "[production] koinonia-api queue backlog",
        "[production] koinonia-api memory",
        "[production] koinonia-api replica lag",
    ])
    error = by_title["[production] koinonia-api error rate"]
    assert error["query"] == ("sum(last_5m):sum:trace.express.request.errors{env:production,service:koinonia-api}.as_count()"
                              " / sum:trace.express.request.hits{env:production,service:koinonia-api}.as_count() > 0.01")
    assert error["thresholds"] == {"critical": 0.01}
    assert error["message"].startswith("More than 1% of the app's requests failed over 5m")
    assert by_title["[production] koinonia-api p95 latency"]["message"].startswith(
        "The app's 95th percentile response time was above 500 ms")
    for monitor in monitors:
        assert monitor["type"] == "query alert"
        assert monitor["query"].endswith(f"> {monitor['thresholds']['critical']:g}")
        assert "managed-by:koinonia.fleet" in monitor["tags"] and "env:production" in monitor["tags"]


def test_a_new_threshold_keeps_each_monitors_name_so_it_updates_the_same_monitor():
    other = datadog_monitors({**PLAN, "error_ratio": 0.05, "p95_seconds": 0.3, "queue_backlog": 50, "memory_ratio": 0.9,
                              "replica_lag_seconds": 1}, "production", "koinonia-api")
    before = datadog_monitors(PLAN, "production", "koinonia-api")
    assert [m["name"] for m in other] == [m["name"] for m in before]
    assert [m["query"] for m in other] != [m["query"] for m in before]


def test_thresholds_from_a_templated_inventory_may_be_strings_and_notify_is_appended():
    monitors = datadog_monitors({**PLAN, "error_ratio": "0.02", "queue_backlog": "500", "window": "10m"},
                                "staging", "api", notify="@slack-ops")
    assert monitors[0]["query"].startswith("sum(last_10m):") and monitors[0]["query"].endswith("> 0.02")
    assert monitors[3]["query"].endswith("> 500")
    assert all(m["message"].endswith(" @slack-ops") for m in monitors)


def test_every_error_is_reported_at_once():
    bad = {"error_ratio": 1.5, "p95_seconds": 0, "queue_backlog": "many", "memory_ratio": True, "window": "5 minutes",
           "typo": 1}
    with pytest.raises(AnsibleFilterError) as raised:
        datadog_monitors(bad, "Production", "koinonia-api")
    message = str(raised.value)
    for part in ("error_ratio 1.5 must be a ratio", "p95_seconds 0 must be above 0",
                 "queue_backlog must be a number, got str 'many'", "memory_ratio must be a number, got bool True",
                 "replica_lag_seconds is missing", "window '5 minutes' must be minutes or hours",
                 "env 'Production' must be a lower-case tag value", "unknown thresholds typo"):
        assert part in message


def test_thresholds_must_be_a_dict():
    with pytest.raises(AnsibleFilterError, match="must be a dict, got list"):
        datadog_monitors([0.01], "production", "koinonia-api")
