"""Which packages an install task still has to install, from the host's package facts."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.filter.packages_missing import packages_missing

FACTS = {"nftables": [{"version": "1.0.6-2+deb12u2"}], "rsyslog": [{"version": "8.2302.0-1"}], "gone": []}


def test_installed_packages_are_left_out_in_the_given_order():
    assert packages_missing(["rsyslog", "rsyslog-relp", "nftables", "cron"], FACTS) == ["rsyslog-relp", "cron"]


def test_everything_installed_leaves_nothing_to_do():
    assert packages_missing(["nftables", "rsyslog"], FACTS) == []


def test_facts_not_gathered_know_nothing():
    assert packages_missing(["nftables"], None) == ["nftables"]
    assert packages_missing(["nftables"]) == ["nftables"]


def test_a_single_name_counts_as_a_list():
    assert packages_missing("nftables", FACTS) == []


@pytest.mark.parametrize("name", ["nftables=1.0.6-2+deb12u2", "nftables:amd64", "nftables>=1", "NFTables"])
def test_a_name_with_a_version_or_architecture_is_always_installed_by_apt(name):
    assert packages_missing([name], FACTS) == [name]


def test_a_package_with_no_installed_version_is_missing():
    assert packages_missing(["gone"], FACTS) == ["gone"]


def test_every_bad_input_is_named_at_once():
    with pytest.raises(AnsibleFilterError) as err:
        packages_missing(["nftables", "", 3], ["nftables"])
    message = str(err.value)
    assert "'', 3" in message
    assert "installed must be ansible_facts.packages (a dict) or null, got list" in message
    with pytest.raises(AnsibleFilterError, match="must be a list of strings, got dict"):
        packages_missing({"nftables": 1}, FACTS)
