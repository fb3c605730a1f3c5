"""The port_listeners module's reading of /proc: real sockets of this test process, and /proc/net/tcp text."""
import os
import socket

import pytest

from ansible_collections.koinonia.fleet.plugins.modules.port_listeners import classify, listening_inodes, socket_inodes

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1920 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 1111 1 0
   1: 1F391EAC:1920 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 2222 1 0
   2: 0100007F:1920 0100007F:D3A2 01 00000000:00000000 00:00000000 00000000   106        0 3333 1 0
   3: 0100007F:1921 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 4444 1 0
"""


def test_listening_sockets_on_the_port_only():
    # 0x1920 = 6432: two listeners (loopback and a private address); an established one and port 6433 are not.
    assert listening_inodes(TCP, 6432) == {"1111", "2222"}
    assert listening_inodes(TCP, 6433) == {"4444"}
    assert listening_inodes(TCP, 5432) == set()


def test_a_real_listener_of_this_process_is_found():
    with socket.socket() as listener, socket.socket() as other:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        other.bind(("127.0.0.1", 0))  # bound, not listening
        port = listener.getsockname()[1]
        with open("/proc/net/tcp", encoding="ascii") as f:
            inodes = listening_inodes(f.read(), port)
        assert len(inodes) == 1
        assert inodes <= socket_inodes(os.getpid())
        with open("/proc/net/tcp", encoding="ascii") as f:
            assert listening_inodes(f.read(), other.getsockname()[1]) == set()


def test_a_gone_process_has_no_sockets():
    assert socket_inodes(2 ** 22 + 1) == set()


def test_units_are_listening_deaf_or_stopped():
    sockets = {10: {"1111", "9"}, 11: {"8"}}
    result = classify({"pgbouncer": 10, "pgbouncer@2": 11, "pgbouncer@3": 0}, {"1111", "2222"},
                      lambda pid: sockets.get(pid, set()))
    assert result == {"listening": ["pgbouncer"], "deaf": ["pgbouncer@2"], "stopped": ["pgbouncer@3"]}


def test_unreadable_descriptors_are_an_error_not_deafness(monkeypatch):
    """Root without CAP_SYS_PTRACE (a container) may list another user's fds but not read them."""
    def denied(path):
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(os, "readlink", denied)
    with pytest.raises(PermissionError):
        socket_inodes(os.getpid())
