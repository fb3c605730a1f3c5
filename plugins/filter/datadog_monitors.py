# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind

DOCUMENTATION = r"""
name: datadog_monitors
short_description: The scaling plan's alerts as Datadog monitors
version_added: 0.1.0
description:
  - Builds, from the same thresholds as the Prometheus alert rules, one monitor per alert of the plan for
    community.general.datadog_monitor (the koinonia.fleet.datadog_agent role's C(datadog_agent_monitors)) -
    the app's error rate and p95 latency (from APM, dd-trace), the database pool exhausted (PgBouncer's
    waiting clients), the queue backlog (the app's own gauge, scraped by the agent's openmetrics check),
    memory per host, and the replica's lag.
  - A monitor's name says what it watches, never its threshold (C(datadog_monitor) finds a monitor by its
    name, so a new threshold updates it rather than adding a second one); the message says the threshold.
  - Refuses, naming the key and the value, every error at once - a threshold missing, not a number, or
    out of its range (a ratio from 0 to 1, a count or a time above 0), a window not like C(5m).
positional: _input, env, service
options:
  _input:
    description: >-
      The thresholds - C(error_ratio), C(p95_seconds), C(queue_backlog), C(memory_ratio),
      C(replica_lag_seconds) and C(window) (the evaluation window, such as C(5m)).
    type: dict
    required: true
  env:
    description: The env tag the monitors watch.
    type: str
    required: true
  service:
    description: The service tag the monitors watch.
    type: str
    required: true
  notify:
    description: Who is told, appended to each message (C(@slack-ops), C(@pagerduty)).
    type: str
    default: ""
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: The plan's monitors
  ansible.builtin.set_fact:
    datadog_agent_monitors: >-
      {{ {'error_ratio': 0.01, 'p95_seconds': 0.5, 'queue_backlog': 1000, 'memory_ratio': 0.8,
          'replica_lag_seconds': 0.1, 'window': '5m'} | koinonia.fleet.datadog_monitors('production', 'koinonia-api') }}
"""

RETURN = r"""
_value:
  description: The monitors, each with C(name), C(type), C(query), C(message), C(tags) and C(thresholds).
  type: list
  elements: dict
  sample:
    - name: "[production] koinonia-api error rate"
      type: query alert
      query: >-
        sum(last_5m):sum:trace.express.request.errors{env:production,service:koinonia-api}.as_count()
        / sum:trace.express.request.hits{env:production,service:koinonia-api}.as_count() > 0.01
      message: More than 1% of the app's requests failed over 5m (koinonia.fleet, docs/observability.md).
      tags: [env:production, service:koinonia-api, managed-by:koinonia.fleet]
      thresholds: {critical: 0.01}
"""

RATIOS = ("error_ratio", "memory_ratio")
POSITIVE = ("p95_seconds", "queue_backlog", "replica_lag_seconds")
TAG = re.compile(r"^[a-z0-9][a-z0-9_.:/-]*$")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(value):
    """Numbers from the inventory may come as strings ("0.01") after templating."""
    if isinstance(value, str):
        try:
            return float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            return value
    return value


def _fmt(value):
    return f"{value:g}"


def datadog_monitors(thresholds, env, service, notify=""):
    errors = []
    if not isinstance(thresholds, dict):
        raise AnsibleFilterError(f"datadog_monitors refused the thresholds: must be a dict, got {kind(thresholds)}")
    t = {k: _coerce(v) for k, v in thresholds.items()}
    for key in RATIOS + POSITIVE:
        if key not in t:
            errors.append(f"{key} is missing")
        elif not _number(t[key]):
            errors.append(f"{key} must be a number, got {kind(t[key])} {t[key]!r}")
        elif key in RATIOS and not 0 < t[key] <= 1:
            errors.append(f"{key} {t[key]!r} must be a ratio above 0 and at most 1 (0.01 is 1 %)")
        elif key in POSITIVE and t[key] <= 0:
            errors.append(f"{key} {t[key]!r} must be above 0")
    window = t.get("window", "5m")
    if not (isinstance(window, str) and re.match(r"^[1-9][0-9]*[mh]$", window)):
        errors.append(f"window {window!r} must be minutes or hours, such as 5m or 1h")
    for name, value in (("env", env), ("service", service)):
        if not (isinstance(value, str) and TAG.match(value)):
            errors.append(f"{name} {value!r} must be a lower-case tag value")
    unknown = sorted(set(t) - set(RATIOS + POSITIVE + ("window",)))
    if unknown:
        errors.append(f"unknown thresholds {', '.join(map(str, unknown))}")
    if errors:
        raise AnsibleFilterError("datadog_monitors refused the thresholds: " + "; ".join(errors))

    scope = f"env:{env},service:{service}"
    host_scope = f"env:{env}"
    tail = f" {notify}" if notify else ""
    last = f"last_{window}"

    def monitor(title, query, critical, what):
        return {
            "name": f"[{env}] {service} {title}",
            "type": "query alert",
            "query": query,
            "message": f"{what} (koinonia.fleet, docs/observability.md).{tail}",
            "tags": [f"env:{env}", f"service:{service}", "managed-by:koinonia.fleet"],
            "thresholds": {"critical": critical},
        }

    err, p95 = t["error_ratio"], t["p95_seconds"]
    mem, lag, backlog = t["memory_ratio"], t["replica_lag_seconds"], t["queue_backlog"]
    return [
        monitor("error rate",
                f"sum({last}):sum:trace.express.request.errors{{{scope}}}.as_count()"
                f" / sum:trace.express.request.hits{{{scope}}}.as_count() > {_fmt(err)}",
                err, f"More than {_fmt(err * 100)}% of the app's requests failed over {window}"),
        monitor("p95 latency",
                f"percentile({last}):p95:trace.express.request{{{scope}}} > {_fmt(p95)}",
                p95, f"The app's 95th percentile response time was above {_fmt(p95 * 1000)} ms over {window}"),
        monitor("database pool exhausted",
                f"max({last}):max:pgbouncer.pools.cl_waiting{{{host_scope}}} by {{host}} > 0",
                0, "Clients waited for a PgBouncer server connection: the pool plan's pools are all in use"),
        monitor("queue backlog",
                f"max({last}):max:koinonia.queue_backlog_jobs{{{scope}}} by {{queue}} > {_fmt(backlog)}",
                backlog, f"More than {_fmt(backlog)} jobs waited in a queue for {window}"),
        monitor("memory",
                f"min({last}):1 - avg:system.mem.pct_usable{{{host_scope}}} by {{host}} > {_fmt(mem)}",
                mem, f"A host used more than {_fmt(mem * 100)}% of its memory for {window}"),
        monitor("replica lag",
                f"max({last}):max:postgresql.replication_delay{{{host_scope}}} by {{host}} > {_fmt(lag)}",
                lag, f"The read replica replayed more than {_fmt(lag * 1000)} ms behind the primary"),
    ]


class FilterModule:
    def filters(self):
        return {"datadog_monitors": datadog_monitors}
