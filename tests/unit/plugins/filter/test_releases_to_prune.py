"""Which releases a backend deletes: by when each last went live, never the current or previous."""
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.koinonia.fleet.plugins.filter.releases_to_prune import releases_to_prune

BASE = "/srv/koinonia-api"


def dirs(*names):
    return [{"path": f"{BASE}/releases/{n}", "mtime": 1577836800.0} for n in names]  # all stamped alike


def live(**times):
    return [{"path": f"{BASE}/activations/{n.replace('_', '.')}", "mtime": t} for n, t in times.items()]


def names(paths):
    return [p.rsplit("/", 1)[1] for p in paths]


def test_the_longest_ago_deployed_go_first_whatever_the_names():
    releases = dirs("1.10.0", "1.9.0", "2.0.0", "1.2.0")
    activations = live(**{"1_2_0": 400, "1_9_0": 100, "1_10_0": 300, "2_0_0": 200})  # back on 1.2.0 last
    assert names(releases_to_prune(releases, activations, 2)) == ["1.9.0", "2.0.0"]


def test_never_live_releases_count_as_the_oldest_and_protected_ones_stay():
    releases = dirs("1.0.0", "1.1.0", "9.2.0-broken", "1.3.0")
    activations = live(**{"1_0_0": 100, "1_1_0": 200, "1_3_0": 300})
    assert names(releases_to_prune(releases, activations, 2)) == ["9.2.0-broken", "1.0.0"]
    assert names(releases_to_prune(releases, activations, 2, [f"{BASE}/releases/1.0.0", ""])) == ["9.2.0-broken"]


def test_every_problem_at_once():
    with pytest.raises(AnsibleFilterError) as err:
        releases_to_prune("1.0.0", [{"path": "x", "mtime": "yesterday"}], 0, protect="1.0.0")
    message = str(err.value)
    for fragment in ("the releases must be a list of dicts with path", "activations need numeric mtimes: x",
                     "keep must be >= 1, got 0", "protect must be a list of paths or names"):
        assert fragment in message


@given(st.dictionaries(st.from_regex(r"[0-9]\.[0-9]", fullmatch=True), st.integers(0, 10**6), max_size=8),
       st.lists(st.from_regex(r"[a-c]", fullmatch=True), max_size=3, unique=True), st.integers(1, 10))
def test_keeps_the_most_recently_deployed_and_the_protected(went_live, never_live, keep):
    releases = sorted(set(went_live) | set(never_live))
    protect = releases[:1]
    activations = [{"path": f"{BASE}/activations/{n}", "mtime": t} for n, t in went_live.items()]
    pruned = names(releases_to_prune(dirs(*releases), activations, keep, protect))
    kept = [r for r in releases if r not in pruned]
    assert len(kept) >= min(keep, len(releases)) and not set(pruned) & set(protect)
    for gone in pruned:  # nothing kept (beyond the protected) went live before something deleted
        for stays in kept:
            if stays not in protect and gone in went_live:
                assert stays in went_live and went_live[stays] >= went_live[gone]
