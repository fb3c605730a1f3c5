# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's exporters list (fleet_exporters), checked the same way by every filter that reads it.

Each entry names an exporter, the inventory group whose hosts run it, and its port:
``{name: node, group: all, port: 9100}``. An app whose workers each serve their own metrics on
consecutive ports names the host variable holding their number (exporter_scrape_jobs only):
``{name: app, group: backends, port: 9464, workers_var: backend_node_pm2_instances}``.
"""
from __future__ import annotations

import re

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KEYS = ("name", "group", "port")
OPTIONAL = ("workers_var",)


def check_exporters(exporters):
    """Return (entries, errors): the well-formed entries, and one line per problem (all of them)."""
    if not isinstance(exporters, list):
        return [], [f"the exporters must be a list of dicts ({', '.join(KEYS)}), got {kind(exporters)}"]
    entries, errors, names, ports = [], [], set(), {}
    for index, entry in enumerate(exporters):
        if not isinstance(entry, dict):
            errors.append(f"exporter {index}: must be a dict ({', '.join(KEYS)}), got {kind(entry)}")
            continue
        name = entry.get("name")
        where = f"exporter {name!r}" if isinstance(name, str) else f"exporter {index}"
        problems = []
        unknown = sorted(str(k) for k in entry if k not in KEYS + OPTIONAL)
        if unknown:
            problems.append(f"{where}: unknown keys {unknown} ({', '.join(KEYS + OPTIONAL)})")
        workers_var = entry.get("workers_var")
        if workers_var is not None and (not isinstance(workers_var, str) or not workers_var):
            problems.append(f"{where}: workers_var must name a host variable, got {workers_var!r}")
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{where}: name must be lower-case letters, digits and _ (node, postgres...)")
        elif name in names:
            problems.append(f"{where}: given twice")
        group = entry.get("group")
        if not isinstance(group, str) or not group:
            problems.append(f"{where}: group must be an inventory group name, got {group!r}")
        port = entry.get("port")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"{where}: port {port!r} is not a port from 1 to 65535")
        elif port in ports:
            problems.append(f"{where}: port {port} is {ports[port]!r}'s already")
        if problems:
            errors.extend(problems)
            continue
        names.add(name)
        ports[port] = name
        entries.append({"name": name, "group": group, "port": port,
                        **({"workers_var": workers_var} if workers_var else {})})
    return entries, errors
