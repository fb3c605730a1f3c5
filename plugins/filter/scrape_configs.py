# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind

DOCUMENTATION = r"""
name: scrape_configs
short_description: Prometheus scrape_configs from a list of jobs and their targets
version_added: 0.1.0
description:
  - Turns the jobs the monitoring host scrapes (each a name and its targets, usually built from the
    inventory's groups) into the C(scrape_configs) of prometheus.yml, one static config per target
    so each target keeps its own labels (the inventory host name as C(host), for instance).
  - A job without targets (a group the inventory does not have yet, a replica before phase 6) is
    left out.
  - Refuses, naming the job and the value, every error at once - a job name Prometheus would
    reject, given twice, or one of C(prometheus) and C(alertmanager) (scraped already), a target
    that is not C(address:port) with a port from 1 to 65535, a target given twice in one job, a
    label name Prometheus would reject or reserves (C(__) prefix), a metrics path that does not
    start with C(/), a scheme other than http or https, an interval that is not a duration.
positional: _input
options:
  _input:
    description:
      - The jobs. Each a dict with C(job) (name), C(targets) (a list of C(address:port) strings, or
        of dicts with C(target) and C(labels)), and optional C(labels) (for every target),
        C(metrics_path) (default C(/metrics)), C(scheme) (default C(http)), C(scrape_interval).
    type: list
    elements: dict
    required: true
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
- name: Write prometheus.yml
  ansible.builtin.template:
    src: prometheus.yml.j2  # {{ prometheus_scrape_jobs | koinonia.fleet.scrape_configs | to_nice_yaml }}
    dest: /etc/prometheus/prometheus.yml
    mode: "0644"
  vars:
    prometheus_scrape_jobs:
      - job: node
        targets:
          - {target: "10.0.0.21:9100", labels: {host: app1}}
          - {target: "10.0.0.22:9100", labels: {host: app2}}
      - job: redis
        targets: ["10.0.0.41:9121"]
"""

RETURN = r"""
_value:
  description: The scrape_configs entries, in the order of the jobs.
  type: list
  elements: dict
  sample:
    - job_name: node
      metrics_path: /metrics
      scheme: http
      static_configs:
        - targets: ["10.0.0.21:9100"]
          labels: {host: app1}
"""

_JOB = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TARGET = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9_.-]+):(?P<port>[0-9]{1,5})$")
_INTERVAL = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
# prometheus.yml has these two jobs already (Prometheus and Alertmanager scrape themselves).
_RESERVED = {"prometheus", "alertmanager"}
_KEYS = {"job", "targets", "labels", "metrics_path", "scheme", "scrape_interval"}


def _labels(where, labels, errors):
    if not isinstance(labels, dict):
        errors.append(f"{where}: labels must be a dict, got {kind(labels)}")
        return {}
    out = {}
    for name, value in labels.items():
        if not isinstance(name, str) or not _LABEL.match(name) or name.startswith("__"):
            errors.append(f"{where}: label name {name!r} is not one Prometheus accepts"
                          " (letters, digits and _, not starting with a digit or __)")
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
            errors.append(f"{where}: label {name} must be a string, got {kind(value)}")
        else:
            out[name] = str(value)
    return out


def _target(where, entry, errors):
    if isinstance(entry, dict):
        unknown = set(entry) - {"target", "labels"}
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)} (target, labels)")
        target, labels = entry.get("target"), _labels(where, entry.get("labels", {}), errors)
    else:
        target, labels = entry, {}
    match = _TARGET.match(target) if isinstance(target, str) else None
    if not match or not 1 <= int(match.group("port")) <= 65535:
        errors.append(f"{where}: target {target!r} is not address:port with a port from 1 to 65535")
        return None, labels
    return target, labels


def scrape_configs(jobs):
    if not isinstance(jobs, list):
        raise AnsibleFilterError(f"scrape_configs expects a list of jobs, got {kind(jobs)}")
    errors, out, names = [], [], set()
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            errors.append(f"job {index}: must be a dict, got {kind(job)}")
            continue
        name = job.get("job")
        where = f"job {name!r}" if isinstance(name, str) else f"job {index}"
        unknown = set(job) - _KEYS
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)} ({', '.join(sorted(_KEYS))})")
        if not isinstance(name, str) or not _JOB.match(name):
            errors.append(f"{where}: the job name must be letters, digits, _, . and - (not starting with a digit)")
        elif name in _RESERVED:
            errors.append(f"{where}: the name is taken (prometheus.yml scrapes {' and '.join(sorted(_RESERVED))} itself)")
        elif name in names:
            errors.append(f"{where}: given twice")
        else:
            names.add(name)
        common = _labels(where, job.get("labels", {}), errors)
        path = job.get("metrics_path", "/metrics")
        if not isinstance(path, str) or not path.startswith("/"):
            errors.append(f"{where}: metrics_path {path!r} must start with /")
        scheme = job.get("scheme", "http")
        if scheme not in ("http", "https"):
            errors.append(f"{where}: scheme {scheme!r} must be http or https")
        interval = job.get("scrape_interval")
        if interval is not None and (not isinstance(interval, str) or not _INTERVAL.match(interval)):
            errors.append(f"{where}: scrape_interval {interval!r} must be a duration such as 15s")
        targets = job.get("targets", [])
        if not isinstance(targets, list):
            errors.append(f"{where}: targets must be a list, got {kind(targets)}")
            continue
        static, seen = [], set()
        for entry in targets:
            target, labels = _target(where, entry, errors)
            if target is None:
                continue
            if target in seen:
                errors.append(f"{where}: target {target} given twice")
                continue
            seen.add(target)
            merged = {**common, **labels}
            static.append({"targets": [target], **({"labels": merged} if merged else {})})
        if static:
            config = {"job_name": name, "metrics_path": path, "scheme": scheme, "static_configs": static}
            if interval is not None:
                config["scrape_interval"] = interval
            out.append(config)
    if errors:
        raise AnsibleFilterError("scrape_configs refused the jobs: " + "; ".join(errors))
    return out


class FilterModule:
    def filters(self):
        return {"scrape_configs": scrape_configs}
