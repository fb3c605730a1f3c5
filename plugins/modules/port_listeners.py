#!/usr/bin/python
# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: port_listeners
short_description: Which systemd units' main processes listen on a TCP port
version_added: 0.1.0
description:
  - For each unit of O(units), whether its main process (systemd's C(MainPID)) holds a listening
    TCP socket (IPv4 or IPv6) on O(port), read from C(/proc/net/tcp), C(/proc/net/tcp6) and the
    process's file descriptors.
  - Run it as the processes' user (C(become_user)) where root lacks C(CAP_SYS_PTRACE), as in a
    container. Without that capability root cannot read another user's file descriptors, and the
    module fails rather than guess.
  - Several processes share a port with C(SO_REUSEPORT) (PgBouncer's C(so_reuseport)); a process
    that could not bind it may keep running without it (PgBouncer then serves its local socket
    only). This module tells those apart. It changes nothing.
options:
  port:
    description: The TCP port.
    type: int
    required: true
  units:
    description: The systemd units (C(pgbouncer), C(pgbouncer@2)).
    type: list
    elements: str
    required: true
  timeout:
    description:
      - Seconds to wait for every unit to listen (a unit just started or restarted by systemd), reading
        again every half second; C(0) reads once. The result is the last reading either way.
    type: int
    default: 0
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
author: koinonia.fleet maintainers (@koinonia-fleet)
"""

EXAMPLES = r"""
- name: Find the PgBouncer processes that do not listen on the port
  become: true
  become_user: postgres
  koinonia.fleet.port_listeners:
    port: 6432
    units: [pgbouncer, pgbouncer@2]
  register: listeners
# listeners.deaf: running units without the port, to restart.
"""

RETURN = r"""
listening:
  description: The units whose main process listens on the port.
  returned: always
  type: list
  elements: str
  sample: [pgbouncer, pgbouncer@2]
deaf:
  description: The running units (a main PID) whose main process does not listen on the port.
  returned: always
  type: list
  elements: str
  sample: [pgbouncer@2]
stopped:
  description: The units without a main process.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

_LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


def listening_inodes(text, port):
    """The socket inodes of /proc/net/tcp{,6} text listening on port."""
    inodes = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _LISTEN:
            continue
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def socket_inodes(pid, proc="/proc"):
    """The socket inodes among pid's file descriptors (empty when the process is gone). PermissionError when they
    cannot be read: another user's process needs CAP_SYS_PTRACE, which containers lack."""
    found = set()
    fd_dir = os.path.join(proc, str(pid), "fd")
    try:
        fds = os.listdir(fd_dir)
    except FileNotFoundError:
        return found
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except FileNotFoundError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found.add(target[len("socket:["):-1])
    return found


def classify(pids, listening, sockets_of):
    """Split units (unit -> main PID, 0 when none) into listening, deaf and stopped."""
    result = {"listening": [], "deaf": [], "stopped": []}
    for unit, pid in pids.items():
        if not pid:
            result["stopped"].append(unit)
        elif sockets_of(pid) & listening:
            result["listening"].append(unit)
        else:
            result["deaf"].append(unit)
    return result


def read(module, systemctl, units, port):
    """One reading: each unit's main PID from systemd, the port's listening sockets from /proc, classified."""
    pids = {}
    for unit in units:
        rc, out, err = module.run_command([systemctl, "show", "--property=MainPID", "--value", unit])
        if rc != 0 or not out.strip().isdigit():
            module.fail_json(msg=f"systemctl show {unit} failed: {err.strip() or out.strip()}")
        pids[unit] = int(out.strip())
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                listening |= listening_inodes(f.read(), port)
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
    try:
        return classify(pids, listening, socket_inodes)
    except PermissionError as e:
        module.fail_json(msg=f"cannot read a process's file descriptors ({e.filename}): run this module as the "
                             "processes' user (become_user), or as root with CAP_SYS_PTRACE")


def main():
    module = AnsibleModule(argument_spec={"port": {"type": "int", "required": True},
                                          "units": {"type": "list", "elements": "str", "required": True},
                                          "timeout": {"type": "int", "default": 0}},
                           supports_check_mode=True)
    port = module.params["port"]
    if not 0 < port < 65536:
        module.fail_json(msg=f"port must be between 1 and 65535, got {port}")
    systemctl = module.get_bin_path("systemctl", required=True)
    deadline = time.monotonic() + max(0, module.params["timeout"])
    result = read(module, systemctl, module.params["units"], port)
    while (result["deaf"] or result["stopped"]) and time.monotonic() < deadline:
        time.sleep(0.5)
        result = read(module, systemctl, module.params["units"], port)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
