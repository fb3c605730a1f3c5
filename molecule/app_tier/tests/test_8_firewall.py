"""Private services are private: each host's firewall (nftables, from the inventory's flows) lets
in only the fleet's own flows. From a fleet host that is not allowed, each private port is
dropped; from the allowed ones it answers; the LB's 80 and 443 are open to everyone."""
import re

import pytest

import fleet

ADDRESS = {"at-lb1": "172.30.58.10", **fleet.ADDRESS, "at-db1": "172.30.58.31", "at-db2": "172.30.58.32",
           "at-cache1": "172.30.58.41", "at-mon1": "172.30.58.50"}
# (from, to, port): allowed
FLOWS = {
    ("at-lb1", "at-app1", 3000): True,
    ("at-cache1", "at-app1", 3000): False,
    ("at-db1", "at-app2", 3000): False,
    ("at-app1", "at-db1", 6432): True,
    ("at-lb1", "at-db1", 6432): False,
    ("at-cache1", "at-db1", 6432): False,
    ("at-app2", "at-db1", 5432): True,  # migrations (DIRECT_DATABASE_URL)
    ("at-lb1", "at-db1", 5432): False,
    ("at-db2", "at-db1", 5432): True,  # replication
    ("at-db1", "at-db2", 5432): True,  # PgBouncer's read alias
    ("at-app1", "at-db2", 5432): False,
    ("at-app3", "at-cache1", 6379): True,
    ("at-lb1", "at-cache1", 6379): False,
    ("at-db1", "at-cache1", 6379): False,
    ("at-cache1", "at-lb1", 443): True,
    ("at-db1", "at-lb1", 80): True,
    # The exporters and the app workers' metrics: from the monitoring host only.
    ("at-mon1", "at-app1", 9464): True,
    ("at-lb1", "at-app1", 9464): False,
    ("at-mon1", "at-app1", 9100): True,
    ("at-lb1", "at-app1", 9100): False,
    ("at-mon1", "at-lb1", 9113): True,
    ("at-app2", "at-lb1", 9113): False,
    ("at-mon1", "at-db1", 9127): True,
    ("at-app1", "at-db1", 9127): False,
    ("at-mon1", "at-db2", 9187): True,
    ("at-db1", "at-db2", 9187): False,
    ("at-mon1", "at-cache1", 9121): True,
    ("at-app3", "at-cache1", 9121): False,
}


def connects(source, target, port):
    """A TCP connection from one fleet host to another's private address, within 2 s."""
    probe = fleet.host(source).run(f"timeout 2 bash -c '</dev/tcp/{ADDRESS[target]}/{port}'")
    return probe.rc == 0


@pytest.mark.parametrize("flow", list(FLOWS), ids=lambda flow: f"{flow[0]}->{flow[1]}:{flow[2]}")
def test_only_the_fleet_s_own_flows_get_through(flow):
    assert connects(*flow) is FLOWS[flow]


@pytest.mark.parametrize("name", list(ADDRESS))
def test_every_host_drops_what_its_flows_do_not_name(name):
    rules = fleet.host(name).check_output("nft list chain inet koinonia input")
    assert "policy drop" in rules
    for line in rules.splitlines():
        if "tcp dport" in line and "accept" in line and "saddr" not in line:  # open to everyone
            assert 'comment "https"' in line and name == "at-lb1", line


def test_the_app_is_open_to_the_load_balancer_and_the_monitoring_host_only():
    rules = fleet.host("at-app1").check_output("nft list chain inet koinonia input")
    line = next(line for line in rules.splitlines() if 'comment "app"' in line)
    assert re.search(r"172\.30\.58\.10\b", line) and re.search(r"172\.30\.58\.1\b", line), line
    assert "172.30.58.41" not in line and "172.30.58.31" not in line, line


def test_services_listen_on_private_addresses_only():
    app = fleet.host("at-app1")
    assert app.socket("tcp://172.30.58.21:3000").is_listening
    assert not app.socket("tcp://0.0.0.0:3000").is_listening
    db = fleet.host("at-db1")
    assert not db.socket("tcp://0.0.0.0:6432").is_listening
    assert not db.socket("tcp://0.0.0.0:5432").is_listening
    assert not fleet.host("at-cache1").socket("tcp://0.0.0.0:6379").is_listening
