# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import check_keys, number_error
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import expect_dict, refuse_if

DOCUMENTATION = r"""
name: pool_plan
short_description: Size PgBouncer pools against the app fleet and PostgreSQL max_connections
version_added: 0.1.0
description:
  - Computes the PgBouncer connection settings for a fleet of Prisma app processes behind
    one or more PgBouncer instances in front of one PostgreSQL server, and checks that the
    connection budget closes.
  - Settings the operator pins are validated instead of computed. Any violated invariant is
    refused with an error that names the numbers and the knob to turn; all violations are
    reported together, one per line.
  - The output contains every input (defaults filled in) and pins every setting, so feeding
    it back in gives the same plan.
  - See docs/pool-sizing.md for the rule and a worked example.
positional: _input
options:
  _input:
    description: The fleet description and optional pinned PgBouncer settings.
    type: dict
    required: true
    suboptions:
      backends:
        description: Number of app backend hosts.
        type: int
        required: true
      processes_per_backend:
        description: App processes (PM2 cluster workers) per backend.
        type: int
        required: true
      connection_limit:
        description: Prisma C(connection_limit), the pool size of each app process.
        type: int
        required: true
      postgres_max_connections:
        description: PostgreSQL C(max_connections).
        type: int
        required: true
      pgbouncer_instances:
        description: PgBouncer processes in front of this PostgreSQL server, over all hosts.
        type: int
        default: 1
      postgres_reserved_connections:
        description: PostgreSQL C(superuser_reserved_connections).
        type: int
        default: 3
      postgres_other_connections:
        description: Connections made directly to PostgreSQL (replication, monitoring, migrations).
        type: int
        default: 0
      pools:
        description: Database/user pairs each PgBouncer opens against this PostgreSQL server.
        type: int
        default: 1
      reload_surge:
        description: Extra app processes per backend alive during a rolling PM2 reload.
        type: int
        default: 1
      postgres_cores:
        description:
          - CPU cores of the PostgreSQL host. When given, the computed C(default_pool_size) is
            capped by this instance's and pool's share of the PostgreSQL wiki target
            C((core_count * 2) + effective_spindle_count).
        type: int
        required: false
      postgres_spindles:
        description: Effective spindle count for the wiki target (0 when the data is cached).
        type: int
        default: 0
      max_client_conn:
        description: Pin PgBouncer C(max_client_conn); computed when omitted.
        type: int
        required: false
      default_pool_size:
        description: Pin PgBouncer C(default_pool_size); computed when omitted.
        type: int
        required: false
      min_pool_size:
        description: Pin PgBouncer C(min_pool_size); C(min(10, default_pool_size)) when omitted.
        type: int
        required: false
      reserve_pool_size:
        description: Pin PgBouncer C(reserve_pool_size); 5 when omitted (less if the budget is smaller).
        type: int
        required: false
      reserve_pool_timeout:
        description: Pin PgBouncer C(reserve_pool_timeout) in seconds; 3 when omitted.
        type: float
        required: false
      max_db_connections:
        description: Pin PgBouncer C(max_db_connections) (0 = unlimited); computed when omitted.
        type: int
        required: false
      max_user_connections:
        description: Pin PgBouncer C(max_user_connections) (0 = unlimited); 0 when omitted.
        type: int
        required: false
      nofile:
        description: Pin the file descriptor limit of each PgBouncer process; computed when omitted.
        type: int
        required: false
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# fleet_pool:
#   backends: 3
#   processes_per_backend: 2
#   connection_limit: 5
#   postgres_max_connections: 100
pgbouncer_settings: "{{ fleet_pool | koinonia.fleet.pool_plan }}"
# => max_client_conn 1000, default_pool_size 45, min_pool_size 10, reserve_pool_size 5,
#    reserve_pool_timeout 3, max_db_connections 97, max_user_connections 0, nofile 1152,
#    client_connections 45, server_connections 50, postgres_available 97

# Pin the scaling plan's seed settings and let the filter check them.
pgbouncer_seed_checked: >-
  {{ fleet_pool | combine({'max_client_conn': 1000, 'default_pool_size': 30,
                           'min_pool_size': 10, 'reserve_pool_size': 5,
                           'reserve_pool_timeout': 3, 'max_db_connections': 0})
     | koinonia.fleet.pool_plan }}
"""

RETURN = r"""
_value:
  description:
    - Every input with its default filled in, every PgBouncer setting (pinned or computed),
      and the derived numbers C(client_connections) (peak app-side connections, counting the
      rolling-reload surge), C(server_connections) (peak connections all PgBouncer instances
      can open to PostgreSQL, reserve pools included) and C(postgres_available)
      (C(max_connections) minus reserved and other connections).
  type: dict
"""

_REQUIRED = ('backends', 'processes_per_backend', 'connection_limit', 'postgres_max_connections')
_DEFAULTS = {
    'pgbouncer_instances': 1,
    'postgres_reserved_connections': 3,
    'postgres_other_connections': 0,
    'pools': 1,
    'reload_surge': 1,
    'postgres_cores': None,
    'postgres_spindles': 0,
}
_SETTINGS = ('max_client_conn', 'default_pool_size', 'min_pool_size', 'reserve_pool_size',
             'reserve_pool_timeout', 'max_db_connections', 'max_user_connections', 'nofile')
_DERIVED = ('client_connections', 'server_connections', 'postgres_available')
_MINIMUM = {
    'backends': 1, 'processes_per_backend': 1, 'connection_limit': 1, 'postgres_max_connections': 1,
    'pgbouncer_instances': 1, 'postgres_reserved_connections': 0, 'postgres_other_connections': 0,
    'pools': 1, 'reload_surge': 0, 'postgres_cores': 1, 'postgres_spindles': 0,
    'max_client_conn': 1, 'default_pool_size': 1, 'min_pool_size': 0, 'reserve_pool_size': 0,
    'reserve_pool_timeout': 0, 'max_db_connections': 0, 'max_user_connections': 0, 'nofile': 1,
    'client_connections': 0, 'server_connections': 0, 'postgres_available': 1,
}
_KNOWN = _REQUIRED + tuple(_DEFAULTS) + _SETTINGS + _DERIVED


def _check_number(name, value, errors):
    """Return value if it is an int (a float too for reserve_pool_timeout) >= its minimum."""
    error = number_error(name, value, _MINIMUM[name], floats=name == 'reserve_pool_timeout')
    if error is None:
        return value
    errors.append(error + (" (use '| int')" if isinstance(value, str) else ""))
    return None


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def pool_plan(data):
    expect_dict('pool_plan', data)
    errors = []
    check_keys(data, _KNOWN, _REQUIRED, errors)

    given = {k: data[k] for k in _KNOWN if data.get(k) is not None}
    p = dict(_DEFAULTS)
    for name, value in given.items():
        p[name] = _check_number(name, value, errors)
    refuse_if(errors, 'pool_plan refused')

    inst, pools = p['pgbouncer_instances'], p['pools']
    reserved, other = p['postgres_reserved_connections'], p['postgres_other_connections']
    avail = p['postgres_max_connections'] - reserved - other
    pg_budget = (f"postgres_available={avail} (postgres_max_connections={p['postgres_max_connections']}"
                 f" - postgres_reserved_connections={reserved} - postgres_other_connections={other})")
    if avail < 1:
        raise AnsibleFilterError(
            f"pool_plan refused:\n{pg_budget} leaves no connections for PgBouncer; raise "
            f"postgres_max_connections to at least {reserved + other + 1} or lower "
            f"postgres_reserved_connections / postgres_other_connections")

    client = p['backends'] * (p['processes_per_backend'] + p['reload_surge']) * p['connection_limit']
    demand = -(-client // inst)  # per PgBouncer instance
    budget = avail // (inst * pools)  # server connections per pool, reserve included

    # Computed settings; pinned ones win.
    dps = given.get('default_pool_size')
    reserve = given.get('reserve_pool_size', min(5, max(0, budget - (dps or 1))))
    if dps is None:
        if budget < 1:
            raise AnsibleFilterError(
                f"pool_plan refused:\n{pg_budget} cannot give each of pgbouncer_instances={inst} x pools={pools}"
                f" = {inst * pools} pools even one server connection; raise postgres_max_connections to"
                f" at least {inst * pools + reserved + other} or lower pgbouncer_instances / pools")
        candidates = [budget - reserve, -(-demand // pools)]
        if p['postgres_cores'] is not None:
            target = p['postgres_cores'] * 2 + p['postgres_spindles']
            candidates.append(max(1, -(-target // (inst * pools))))
        dps = min(candidates)
        if dps < 1:
            raise AnsibleFilterError(
                f"pool_plan refused:\nreserve_pool_size={reserve} leaves no room for default_pool_size in the "
                f"per-pool budget of {budget} ({pg_budget} // (pgbouncer_instances={inst} x pools={pools}));"
                f" lower reserve_pool_size to at most {budget - 1}, raise postgres_max_connections,"
                f" or lower pgbouncer_instances / pools")
    out = {k: p[k] for k in _REQUIRED + tuple(_DEFAULTS)}
    out.update(
        max_client_conn=given.get('max_client_conn', max(1000, _round_up(2 * demand, 100))),
        default_pool_size=dps,
        min_pool_size=given.get('min_pool_size', min(10, dps)),
        reserve_pool_size=reserve,
        reserve_pool_timeout=given.get('reserve_pool_timeout', 3),
        max_db_connections=given.get('max_db_connections', avail // inst),
        max_user_connections=given.get('max_user_connections', 0),
    )
    mcc, max_db, max_user = out['max_client_conn'], out['max_db_connections'], out['max_user_connections']
    fds = mcc + (dps + reserve) * pools
    out['nofile'] = given.get('nofile', _round_up(fds + 64, 128))
    caps = [dps + reserve] + [x for x in (max_db, max_user) if x > 0]
    server = inst * pools * min(caps)
    out.update(client_connections=client, server_connections=server, postgres_available=avail)

    if server > avail:
        errors.append(
            f"server_connections={server} (pgbouncer_instances={inst} x pools={pools} x per-pool cap "
            f"{min(caps)} = min(default_pool_size={dps} + reserve_pool_size={reserve}, non-zero "
            f"max_db_connections/max_user_connections)) exceeds {pg_budget}; lower default_pool_size + "
            f"reserve_pool_size to at most {budget} per pool, run fewer pgbouncer_instances, or raise "
            f"postgres_max_connections to at least {server + reserved + other}")
    for name, value in (('max_db_connections', max_db), ('max_user_connections', max_user)):
        if value > 0 and value * inst > avail:
            errors.append(
                f"{name}={value} x pgbouncer_instances={inst} = {value * inst} exceeds {pg_budget}; "
                f"set {name} to at most {avail // inst} (or 0 to let default_pool_size + "
                f"reserve_pool_size govern), or raise postgres_max_connections to at least "
                f"{value * inst + reserved + other}")
    if client > mcc * inst:
        errors.append(
            f"client_connections={client} (backends={p['backends']} x (processes_per_backend="
            f"{p['processes_per_backend']} + reload_surge={p['reload_surge']}) x connection_limit="
            f"{p['connection_limit']}) exceeds max_client_conn={mcc} x pgbouncer_instances={inst} = "
            f"{mcc * inst}; raise max_client_conn to at least {demand} or lower backends / "
            f"processes_per_backend / connection_limit")
    if out['nofile'] < fds:
        errors.append(
            f"nofile={out['nofile']} is below max_client_conn={mcc} + (default_pool_size={dps} + "
            f"reserve_pool_size={reserve}) x pools={pools} = {fds}; raise nofile to at least {fds} "
            f"(or omit it: the plan computes {_round_up(fds + 64, 128)})")
    if out['min_pool_size'] > dps:
        errors.append(f"min_pool_size={out['min_pool_size']} exceeds default_pool_size={dps}; "
                      f"lower min_pool_size to at most {dps}")
    for name in _DERIVED:
        if name in given and given[name] != out[name]:
            errors.append(f"{name}={given[name]} was given but the plan derives {out[name]}; "
                          f"it is not a setting, drop it from the input")
    refuse_if(errors, 'pool_plan refused')
    return out


class FilterModule:
    def filters(self):
        return {'pool_plan': pool_plan}
