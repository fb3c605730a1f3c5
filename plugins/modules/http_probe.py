#!/usr/bin/python
# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: http_probe
short_description: Send a bounded burst of HTTP(S) requests from a host and count what came back
version_added: 0.1.0
description:
  - The migration phases' gates ask the service what a client sees. This module sends O(count) requests to
    O(url), O(concurrency) at a time, each on a new connection, to O(connect_to) (the name in O(url) is sent as
    the C(Host) header and, over HTTPS, as SNI), and counts the answers by status, by the backend named in a
    JSON reply's C(host) field and by C(Location) header.
  - Over HTTPS with O(ca_file), the certificate must chain to that file, carry the URL's name and be within its
    validity (for a self-signed certificate, give the certificate itself); the result says whether it did and why
    not. Without O(ca_file) the certificate is not checked.
  - Changes nothing; runs the same in check mode. Standard library only.
options:
  url:
    description: The URL as a client would use it, for example C(https://api.example.org/health).
    type: str
    required: true
  connect_to:
    description: The address to connect to instead of resolving the URL's name (default the name itself).
    type: str
  count:
    description: How many requests (1 to 10000).
    type: int
    default: 1
  concurrency:
    description: How many requests at once (1 to 64).
    type: int
    default: 1
  method:
    description: The request method.
    type: str
    choices: [GET, HEAD]
    default: GET
  timeout:
    description: Seconds per request.
    type: float
    default: 5
  ca_file:
    description: CA bundle (or the self-signed certificate) the server's certificate must chain to.
    type: path
  return_bodies:
    description: Return the JSON replies (C(bodies)), at most 200 of them.
    type: bool
    default: false
attributes:
  check_mode:
    description: Sends the same requests in check mode (it changes nothing).
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
author: koinonia.fleet maintainers (@koinonia-fleet)
"""

EXAMPLES = r"""
- name: Ask the LB 120 times, 8 at once, which backend answers
  koinonia.fleet.http_probe:
    url: https://api.koinonia.test/api/whoami
    connect_to: 127.0.0.1
    count: 120
    concurrency: 8
    ca_file: /etc/nginx/tls/api.koinonia.test/fullchain.pem
  register: probe
# probe.statuses == {'200': 120}; probe.hosts == {'app1': 41, 'app2': 40, 'app3': 39}
"""

RETURN = r"""
statuses:
  description: Answers by HTTP status (string keys); C(error) counts requests with no answer.
  returned: always
  type: dict
  sample: {"200": 118, "429": 2}
hosts:
  description: Answers by the C(host) field of a JSON reply.
  returned: always
  type: dict
  sample: {"app1": 60, "app2": 60}
locations:
  description: The distinct C(Location) headers seen.
  returned: always
  type: list
  elements: str
errors:
  description: The first (at most 10) errors, for requests with no answer.
  returned: always
  type: list
  elements: str
certificate:
  description: Over HTTPS with O(ca_file) - C(verified) and, when not, C(error).
  returned: when the URL is https and ca_file is given
  type: dict
  sample: {"verified": true}
bodies:
  description: The JSON replies, when O(return_bodies).
  returned: when return_bodies
  type: list
  elements: raw
"""

import http.client
import json
import socket
import ssl
import threading
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule


class _Connection(http.client.HTTPSConnection):
    """HTTPS to one address, with the URL's name for SNI and the certificate check."""

    def __init__(self, address, name, port, context, timeout):
        super().__init__(address, port, timeout=timeout, context=context)
        self._name = name
        self._context = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._name)


def _context(ca_file):
    if ca_file:
        context = ssl.create_default_context(cafile=ca_file)
    else:
        context = ssl._create_unverified_context()  # the gate asked not to check (no ca_file)
    return context


def _one(parts, address, method, timeout, context):
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    if parts.scheme == 'https':
        conn = _Connection(address, parts.hostname, port, context, timeout)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    path = (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
    try:
        headers = {'Host': parts.netloc, 'Connection': 'close', 'User-Agent': 'koinonia.fleet http_probe'}
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        return resp.status, resp.getheader('Location'), data
    finally:
        conn.close()


def probe(url, connect_to=None, count=1, concurrency=1, method='GET', timeout=5.0, ca_file=None, return_bodies=False):
    parts = urlsplit(url)
    address = connect_to or parts.hostname
    context = _context(ca_file) if parts.scheme == 'https' else None
    result = {'statuses': {}, 'hosts': {}, 'locations': [], 'errors': []}
    bodies = []
    lock = threading.Lock()
    remaining = [count]

    def worker():
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            try:
                status, location, data = _one(parts, address, method, timeout, context)
            except (OSError, http.client.HTTPException) as err:
                with lock:
                    result['statuses']['error'] = result['statuses'].get('error', 0) + 1
                    if len(result['errors']) < 10:
                        result['errors'].append(f'{type(err).__name__}: {err}')
                continue
            with lock:
                key = str(status)
                result['statuses'][key] = result['statuses'].get(key, 0) + 1
                if location and location not in result['locations']:
                    result['locations'].append(location)
                if isinstance(data, dict) and isinstance(data.get('host'), str):
                    result['hosts'][data['host']] = result['hosts'].get(data['host'], 0) + 1
                if return_bodies and data is not None and len(bodies) < 200:
                    bodies.append(data)

    threads = [threading.Thread(target=worker) for _thread in range(min(concurrency, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if parts.scheme == 'https' and ca_file:
        cert_errors = [e for e in result['errors'] if 'SSLCertVerificationError' in e]
        result['certificate'] = {'verified': not cert_errors}
        if cert_errors:
            result['certificate']['error'] = cert_errors[0]
    if return_bodies:
        result['bodies'] = bodies
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            'url': {'type': 'str', 'required': True},
            'connect_to': {'type': 'str'},
            'count': {'type': 'int', 'default': 1},
            'concurrency': {'type': 'int', 'default': 1},
            'method': {'type': 'str', 'default': 'GET', 'choices': ['GET', 'HEAD']},
            'timeout': {'type': 'float', 'default': 5},
            'ca_file': {'type': 'path'},
            'return_bodies': {'type': 'bool', 'default': False},
        },
        supports_check_mode=True,
    )
    p = module.params
    parts = urlsplit(p['url'])
    problems = []
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        problems.append(f"url must be http(s)://name[:port]/path, got {p['url']!r}")
    if not 1 <= p['count'] <= 10000:
        problems.append(f"count must be between 1 and 10000, got {p['count']}")
    if not 1 <= p['concurrency'] <= 64:
        problems.append(f"concurrency must be between 1 and 64, got {p['concurrency']}")
    if p['timeout'] <= 0:
        problems.append(f"timeout must be above 0, got {p['timeout']}")
    if problems:
        module.fail_json(msg='http_probe refused: ' + '; '.join(problems))
    module.exit_json(changed=False, **probe(p['url'], p['connect_to'], p['count'], p['concurrency'], p['method'],
                                            p['timeout'], p['ca_file'], p['return_bodies']))


if __name__ == '__main__':
    main()
