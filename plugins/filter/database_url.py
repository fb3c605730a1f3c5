# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import check_keys, kind, number_error, url_host
from ansible_collections.koinonia.fleet.plugins.plugin_utils.checks import expect_dict, refuse_if

DOCUMENTATION = r"""
name: database_url
short_description: Build a Prisma PostgreSQL connection URL, directly or through PgBouncer
version_added: 0.1.0
description:
  - Renders C(scheme://user:password@host:port/database?params) with the user, password and
    database percent-encoded, IPv6 hosts bracketed and the query parameters in a stable order
    (C(connection_limit), C(pool_timeout), C(pgbouncer), C(schema), then extra params sorted).
  - C(pgbouncer=true) is added only when C(pgbouncer_version) is given and PgBouncer does not
    track prepared statements, that is the version is older than 1.21 or the effective
    C(max_prepared_statements) is 0. When C(max_prepared_statements) is not given, PgBouncer's
    own default for that version is used (0 before 1.24, 200 from 1.24 on). With 1.21+ and
    prepared statements on, the flag makes Prisma fail with
    C(prepared statement "PGBOUNCER_x" does not exist).
  - Bad values are refused with an error naming them; the password never appears in an error.
positional: _input
options:
  _input:
    description: Connection parameters.
    type: dict
    required: true
    suboptions:
      host:
        description: Hostname, IPv4 or IPv6 address (bare or bracketed).
        type: str
        required: true
      database:
        description: Database name.
        type: str
        required: true
      user:
        description: User name.
        type: str
        required: true
      password:
        description: Password; omitted from the URL when empty or null.
        type: str
        required: false
      port:
        description: TCP port.
        type: int
        default: 5432
      connection_limit:
        description: Prisma C(connection_limit), the pool size of each app process (>= 1).
        type: int
        required: false
      pool_timeout:
        description: Prisma C(pool_timeout) in seconds (>= 0, 0 = wait forever).
        type: int
        required: false
      pgbouncer_version:
        description:
          - Version of the PgBouncer the URL points at, as a quoted string such as C("1.18.0").
            Present means the URL goes through PgBouncer.
        type: str
        required: false
      max_prepared_statements:
        description:
          - PgBouncer C(max_prepared_statements) (1.21+; 0 = off). Defaults to PgBouncer's
            default for C(pgbouncer_version). Only valid with C(pgbouncer_version).
        type: int
        required: false
      schema:
        description: Prisma C(schema) query parameter.
        type: str
        required: false
      params:
        description: Extra query parameters (string or integer values), rendered sorted by name.
        type: dict
        required: false
      scheme:
        description: URL scheme.
        type: str
        default: postgresql
        choices: [postgresql, postgres]
author: koinonia.fleet maintainers
"""

EXAMPLES = r"""
# postgresql://app:s%40cret@10.0.0.10:6432/koinonia?connection_limit=5&pool_timeout=10&pgbouncer=true
database_url: >-
  {{ {'host': '10.0.0.10', 'port': 6432, 'database': 'koinonia', 'user': 'app',
      'password': app_db_password, 'connection_limit': 5, 'pool_timeout': 10,
      'pgbouncer_version': '1.18.0'} | koinonia.fleet.database_url }}

# Prisma's directUrl for migrations: straight to PostgreSQL, no pgbouncer flag.
direct_url: >-
  {{ {'host': 'db1.internal', 'database': 'koinonia', 'user': 'migrator',
      'password': migrator_password} | koinonia.fleet.database_url }}
"""

RETURN = r"""
_value:
  description: The connection URL.
  type: str
"""

_KNOWN = ('scheme', 'user', 'password', 'host', 'port', 'database', 'connection_limit',
          'pool_timeout', 'pgbouncer_version', 'max_prepared_statements', 'schema', 'params')
_RESERVED_PARAMS = ('connection_limit', 'pool_timeout', 'pgbouncer', 'schema')
_VERSION = re.compile(r'\d+(?:\.\d+){1,3}')


def _int(data, name, minimum, errors, maximum=None):
    """Return data[name] if it is null or an int in range; else append the error, return None."""
    value = data.get(name)
    error = None if value is None else number_error(name, value, minimum, maximum)
    if error:
        errors.append(error)
        return None
    return value


def _text(data, name, errors, required=False):
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        errors.append(f"{name} must be a non-empty string, got {kind(value)} {value!r}")
        return None
    return value


def database_url(data):
    expect_dict('database_url', data)
    errors = []
    missing = check_keys(data, _KNOWN, ('host', 'database', 'user'), errors)

    scheme = 'postgresql' if data.get('scheme') is None else data['scheme']
    if scheme not in ('postgresql', 'postgres'):
        errors.append(f"scheme must be 'postgresql' or 'postgres', got {scheme!r}")
    host = None
    if 'host' not in missing:
        try:
            host = url_host(data['host'])[0]
        except ValueError:
            errors.append(f"host must be a hostname, IPv4 or IPv6 address, got {data['host']!r}")
    user = _text(data, 'user', errors, required='user' not in missing)
    database = _text(data, 'database', errors, required='database' not in missing)
    password = data.get('password')
    if password is not None and not isinstance(password, str):
        errors.append(f"password must be a string or null, got {kind(password)} (value not shown)")
    port = _int(data, 'port', 1, errors, maximum=65535)
    query = {
        'connection_limit': _int(data, 'connection_limit', 1, errors),
        'pool_timeout': _int(data, 'pool_timeout', 0, errors),
        'pgbouncer': None,
        'schema': _text(data, 'schema', errors),
    }

    version = data.get('pgbouncer_version')
    prepared = _int(data, 'max_prepared_statements', 0, errors)
    if version is not None:
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            errors.append(f"pgbouncer_version must be a quoted dotted version string such as '1.18.0'"
                          f" (unquoted YAML 1.20 is the float 1.2), got {kind(version)} {version!r}")
        else:
            parsed = tuple(int(part) for part in version.split('.'))
            if prepared and parsed < (1, 21):
                errors.append(f"max_prepared_statements={prepared} needs PgBouncer 1.21 or later, but "
                              f"pgbouncer_version is {version!r}; set it to 0 or upgrade PgBouncer")
            if prepared is None:
                prepared = 200 if parsed >= (1, 24) else 0  # PgBouncer's default for that version
            if parsed < (1, 21) or prepared == 0:
                query['pgbouncer'] = 'true'
    elif data.get('max_prepared_statements') is not None:
        errors.append("max_prepared_statements only applies through PgBouncer; set pgbouncer_version too")

    params = data.get('params') or {}
    if not isinstance(params, Mapping):
        errors.append(f"params must be a dict, got {kind(params)}")
        params = {}
    for key in sorted(params, key=str):
        value = params[key]
        if not isinstance(key, str) or not key or key in _RESERVED_PARAMS:
            errors.append(f"params key {key!r} is not allowed; use the top-level keys for "
                          f"{', '.join(_RESERVED_PARAMS[:2])}, pgbouncer_version and schema")
        elif isinstance(value, bool) or not isinstance(value, (str, int)):
            errors.append(f"params[{key!r}] must be a string or integer, got {kind(value)}"
                          + (" (write 'true' or 'false')" if isinstance(value, bool) else ""))
        else:
            query[key] = str(value)

    refuse_if(errors, 'database_url refused')
    userinfo = quote(user, safe='') + (f":{quote(password, safe='')}" if password else '')
    qs = '&'.join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in query.items() if v is not None)
    url = f"{scheme}://{userinfo}@{host}:{port or 5432}/{quote(database, safe='')}"
    return f"{url}?{qs}" if qs else url


class FilterModule:
    def filters(self):
        return {'database_url': database_url}
