# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import check_keys, kind, number_error
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
        description:
          - Other connections made straight to each PostgreSQL server (not through PgBouncer).
            Streaming replication does not count (WAL senders have their own C(max_wal_senders)).
        type: int
        default: 0
      migration_connections:
        description:
          - Connections C(prisma migrate deploy) holds on the primary (the first server of O(databases))
            through C(DIRECT_DATABASE_URL) while a deploy migrates.
        type: int
        default: 1
      monitoring_connections:
        description: Connections monitoring agents hold on each PostgreSQL server.
        type: int
        default: 0
      databases:
        description:
          - PgBouncer's databases, the same entries as the pgbouncer role's C(pgbouncer_databases)
            (C(name), C(host), optional C(port), other keys ignored). Each is a pool of its own; a
            server is C(host:port), the first entry's server is the primary.
          - With it, every server's budget is split between the pools that land on it (two aliases
            on one primary get half each), each pool gets its own C(max_db_connections)
            (RV(_value.database_connections)), and an oversubscribed server is refused by name.
          - Without it, O(pools) pools land on one server.
        type: list
        elements: dict
        required: false
      auth_user:
        description:
          - PgBouncer looks up passwords with C(auth_query) as an C(auth_user), a pool of its own in
            each database; one connection of each pool's share is kept for it.
        type: bool
        default: false
      pools:
        description: Database/user pairs each PgBouncer opens against this PostgreSQL server (without O(databases)).
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
#    reserve_pool_timeout 3, max_db_connections 96, max_user_connections 0, nofile 1152,
#    client_connections 45, server_connections 50, postgres_available 96 (100 - 3 reserved - 1 migration)

# Budget every pool on every server: with no replica both aliases land on the primary and
# share it (database_connections {koinonia: 48, koinonia_ro: 48}).
pgbouncer_settings_two_aliases: >-
  {{ fleet_pool | combine({'databases': pgbouncer_databases, 'auth_user': false}) | koinonia.fleet.pool_plan }}
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
      (C(max_connections) minus reserved and other connections) of the primary.
    - With O(databases), C(database_connections) (each database's C(max_db_connections), to write
      in its C([databases]) line) and C(servers) (per C(host:port), its databases, C(available)
      and the C(server_connections) PgBouncer can open there); both are empty without.
  type: dict
"""

_REQUIRED = ('backends', 'processes_per_backend', 'connection_limit', 'postgres_max_connections')
_DEFAULTS = {
    'pgbouncer_instances': 1,
    'postgres_reserved_connections': 3,
    'postgres_other_connections': 0,
    'migration_connections': 1,
    'monitoring_connections': 0,
    'pools': 1,
    'reload_surge': 1,
    'postgres_cores': None,
    'postgres_spindles': 0,
}
_OPTIONAL = ('databases', 'auth_user')  # not numbers
_SETTINGS = ('max_client_conn', 'default_pool_size', 'min_pool_size', 'reserve_pool_size',
             'reserve_pool_timeout', 'max_db_connections', 'max_user_connections', 'nofile')
_DERIVED = ('client_connections', 'server_connections', 'postgres_available', 'database_connections', 'servers')
_MINIMUM = {
    'backends': 1, 'processes_per_backend': 1, 'connection_limit': 1, 'postgres_max_connections': 1,
    'pgbouncer_instances': 1, 'postgres_reserved_connections': 0, 'postgres_other_connections': 0,
    'migration_connections': 0, 'monitoring_connections': 0,
    'pools': 1, 'reload_surge': 0, 'postgres_cores': 1, 'postgres_spindles': 0,
    'max_client_conn': 1, 'default_pool_size': 1, 'min_pool_size': 0, 'reserve_pool_size': 0,
    'reserve_pool_timeout': 0, 'max_db_connections': 0, 'max_user_connections': 0, 'nofile': 1,
    'client_connections': 0, 'server_connections': 0, 'postgres_available': 1,
}
_KNOWN = _REQUIRED + tuple(_DEFAULTS) + _OPTIONAL + _SETTINGS + _DERIVED
# A PgBouncer database name that needs no quoting.
_ALIAS = re.compile(r'[0-9A-Za-z_.-]+')


def _check_number(name, value, errors):
    """Return value if it is an int (a float too for reserve_pool_timeout) >= its minimum."""
    error = number_error(name, value, _MINIMUM[name], floats=name == 'reserve_pool_timeout')
    if error is None:
        return value
    errors.append(error + (" (use '| int')" if isinstance(value, str) else ""))
    return None


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def _servers(databases, errors):
    """{server: [aliases]} in the order of first appearance (the first is the primary's), from
    PgBouncer's databases (name, host, optional port); a server is host:port."""
    if not isinstance(databases, list) or not databases:
        errors.append(f"databases must be a non-empty list of PgBouncer databases (name, host, port), "
                      f"got {kind(databases)} {databases!r}")
        return {}
    servers, names = {}, set()
    for index, entry in enumerate(databases):
        where = f"databases[{index}]"
        if not isinstance(entry, Mapping):
            errors.append(f"{where} must be a dict with name and host, got {kind(entry)}")
            continue
        name, host, port = entry.get('name'), entry.get('host'), entry.get('port', 5432)
        found = len(errors)
        if not isinstance(name, str) or not _ALIAS.fullmatch(name):
            errors.append(f"{where}.name must be letters, digits, _ . and -, got {name!r}")
        elif name in names:
            errors.append(f"{where}.name {name} is listed twice")
        if not isinstance(host, str) or not host:
            errors.append(f"{where}.host must be a non-empty string, got {host!r}")
        port_error = number_error(f"{where}.port", port, 1, 65535)
        if port_error:
            errors.append(port_error)
        if len(errors) == found:
            names.add(name)
            servers.setdefault(f"{host}:{port}", []).append(name)
    return servers


def pool_plan(data):
    expect_dict('pool_plan', data)
    errors = []
    check_keys(data, _KNOWN, _REQUIRED, errors)

    given = {k: data[k] for k in _KNOWN if data.get(k) is not None}
    p = dict(_DEFAULTS)
    for name, value in given.items():
        if name not in _OPTIONAL + ('database_connections', 'servers'):
            p[name] = _check_number(name, value, errors)
    auth = given.get('auth_user', False)
    if not isinstance(auth, bool):
        errors.append(f"auth_user must be a boolean, got {kind(auth)} {auth!r}")
    if 'databases' in given:
        servers = _servers(given['databases'], errors)
        busiest = max((len(names) for names in servers.values()), default=1)
        if 'pools' in given and given['pools'] != busiest:
            errors.append(f"pools={given['pools']} was given with databases, which put {busiest} pool(s) on the "
                          f"busiest server; drop pools (the databases count them)")
        p['pools'] = busiest
    else:
        servers = {'postgres': [f'pool{i + 1}' for i in range(p['pools'] or 1)]}
    refuse_if(errors, 'pool_plan refused')

    inst, pools = p['pgbouncer_instances'], p['pools']
    reserved, other = p['postgres_reserved_connections'], p['postgres_other_connections']
    migration, monitoring = p['migration_connections'], p['monitoring_connections']
    primary = next(iter(servers))
    avail, budgets = {}, {}
    for server in servers:
        direct = other + monitoring + (migration if server == primary else 0)
        avail[server] = p['postgres_max_connections'] - reserved - direct
        budgets[server] = (
            f"postgres_available={avail[server]} on {server} (postgres_max_connections="
            f"{p['postgres_max_connections']} - postgres_reserved_connections={reserved} - postgres_other_connections="
            f"{other} - monitoring_connections={monitoring}"
            + (f" - migration_connections={migration}" if server == primary else '') + ')')
        if avail[server] < 1:
            errors.append(f"{budgets[server]} leaves no connections for PgBouncer; raise postgres_max_connections to "
                          f"at least {p['postgres_max_connections'] - avail[server] + 1} or lower the connections "
                          f"made around it")
    refuse_if(errors, 'pool_plan refused')

    # Each alias (database entry) on a server gets an equal share of the server, per PgBouncer
    # instance; with auth_user one connection of each share is kept for its lookup pool.
    share = {server: avail[server] // (inst * len(names)) for server, names in servers.items()}
    tightest = min(servers, key=lambda server: share[server])
    budget = share[tightest] - (1 if auth else 0)  # app pool of one alias, reserve included
    client = p['backends'] * (p['processes_per_backend'] + p['reload_surge']) * p['connection_limit']
    demand = -(-client // inst)  # per PgBouncer instance, and per alias (every process may use each)

    # Computed settings; pinned ones win.
    dps = given.get('default_pool_size')
    reserve = given.get('reserve_pool_size', min(5, max(0, budget - (dps or 1))))
    if dps is None:
        if budget < 1:
            raise AnsibleFilterError(
                f"pool_plan refused:\n{budgets[tightest]} cannot give each of pgbouncer_instances={inst} x "
                f"{len(servers[tightest])} pool(s) on {tightest} even one server connection"
                + (" besides the auth_user lookup" if auth else "") + "; raise postgres_max_connections or lower "
                f"pgbouncer_instances / the databases on {tightest}")
        candidates = [budget - reserve, demand]
        if p['postgres_cores'] is not None:
            target = p['postgres_cores'] * 2 + p['postgres_spindles']
            candidates.append(max(1, -(-target // (inst * pools))))
        dps = min(candidates)
        if dps < 1:
            raise AnsibleFilterError(
                f"pool_plan refused:\nreserve_pool_size={reserve} leaves no room for default_pool_size in the "
                f"per-pool budget of {budget} ({budgets[tightest]} // (pgbouncer_instances={inst} x "
                f"{len(servers[tightest])} pool(s))); lower reserve_pool_size to at most {budget - 1}, raise "
                f"postgres_max_connections, or lower pgbouncer_instances / the databases on {tightest}")

    out = {k: p[k] for k in _REQUIRED + tuple(_DEFAULTS)}
    out.update({k: given[k] for k in _OPTIONAL if k in given})
    every_database = demand * (len(given['databases']) if 'databases' in given else 1)
    out.update(
        max_client_conn=given.get('max_client_conn', max(1000, _round_up(2 * every_database, 100))),
        default_pool_size=dps,
        min_pool_size=given.get('min_pool_size', min(10, dps)),
        reserve_pool_size=reserve,
        reserve_pool_timeout=given.get('reserve_pool_timeout', 3),
        max_db_connections=given.get('max_db_connections', share[tightest]),
        max_user_connections=given.get('max_user_connections', 0),
    )
    mcc, max_db, max_user = out['max_client_conn'], out['max_db_connections'], out['max_user_connections']
    # Per pool, the max_db_connections PgBouncer enforces: with databases, each entry's own (its
    # server's share, or less when max_db_connections is lower), otherwise the global one; 0 is
    # unlimited (max_db_connections pinned to 0).
    cap = {name: (min(share[server], max_db) if 'databases' in given else max_db) if max_db > 0 else 0
           for server, names in servers.items() for name in names}
    alias_pools = (dps + reserve) * (2 if auth else 1)  # the app's pool, and auth_user's
    bound = {name: min([alias_pools] + [x for x in (cap[name], max_user) if x > 0]) for name in cap}
    report = {}
    for server, names in servers.items():
        opened = inst * sum(bound[name] for name in names)
        report[server] = {'databases': names, 'available': avail[server],
                          'server_connections': opened}
        if opened > avail[server]:
            errors.append(
                f"server_connections={opened} on {server} (pgbouncer_instances={inst} x {len(names)} pool(s)"
                + (f" {', '.join(names)}" if 'databases' in given else '')
                + f" x per-pool cap {max(bound[n] for n in names)} = min(default_pool_size={dps} + "
                f"reserve_pool_size={reserve}" + (", twice for auth_user's lookup pool" if auth else '')
                + f", non-zero max_db_connections/max_user_connections)) exceeds {budgets[server]}; lower default_pool_size + "
                f"reserve_pool_size to at most {share[server] - (1 if auth else 0)} per pool, run fewer "
                f"pgbouncer_instances, or raise postgres_max_connections to at least "
                f"{p['postgres_max_connections'] - avail[server] + opened}")
    fds = mcc + sum(bound.values())
    out['nofile'] = given.get('nofile', _round_up(fds + 64, 128))
    out.update(client_connections=client, server_connections=max(r['server_connections'] for r in report.values()),
               postgres_available=avail[primary],
               database_connections=cap if 'databases' in given else {},
               servers=report if 'databases' in given else {})
    if auth and max_db == 0:
        errors.append("max_db_connections=0 with auth_user: auth_query lets any role log in with a pool of its own, "
                      "so only a per-database cap bounds the server; drop max_db_connections (the plan computes each "
                      "database's share) or pin a non-zero one")
    for name, value in (('max_db_connections', max_db), ('max_user_connections', max_user)):
        if value > 0 and value * inst > avail[tightest]:
            errors.append(
                f"{name}={value} x pgbouncer_instances={inst} = {value * inst} exceeds {budgets[tightest]}; "
                f"set {name} to at most {avail[tightest] // inst} (or 0 to let default_pool_size + "
                f"reserve_pool_size govern), or raise postgres_max_connections to at least "
                f"{p['postgres_max_connections'] - avail[tightest] + value * inst}")
    # max_client_conn is PgBouncer-wide: every app process may hold connection_limit on each database.
    aliases = len(cap) if 'databases' in given else 1
    if client * aliases > mcc * inst:
        errors.append(
            f"client_connections={client} (backends={p['backends']} x (processes_per_backend="
            f"{p['processes_per_backend']} + reload_surge={p['reload_surge']}) x connection_limit="
            f"{p['connection_limit']})" + (f" x {aliases} databases" if aliases > 1 else "")
            + f" exceeds max_client_conn={mcc} x pgbouncer_instances={inst} = "
            f"{mcc * inst}; raise max_client_conn to at least {-(-client * aliases // inst)} or lower backends / "
            f"processes_per_backend / connection_limit")
    if out['nofile'] < fds:
        errors.append(
            f"nofile={out['nofile']} is below max_client_conn={mcc} + the server connections of its "
            f"{len(bound)} pool(s) = {fds}; raise nofile to at least {fds} "
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
