"""The nginx_upstream module run as Ansible runs it (a subprocess with its arguments file) on a
site file in a temporary directory: check mode, diff, validation, the record, refusals."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.koinonia.fleet.plugins.filter.upstream_servers import upstream_servers

MODULE = Path(__file__).resolve().parents[4] / "plugins" / "modules" / "nginx_upstream.py"
BACKENDS = [{'name': 'app1', 'address': '10.0.0.21', 'port': 3000},
            {'name': 'app2', 'address': '10.0.0.22', 'port': 3000}]


def render(backends=BACKENDS):
    return "upstream u {\n" + "".join(f"    {line}\n" for line in upstream_servers(backends)) + "}\n"


def run(tmp_path, check=False, **args):
    params = {"site": str(tmp_path / "site.conf"), "record": str(tmp_path / "state.json"), **args,
              "_ansible_check_mode": check, "_ansible_diff": True, "_ansible_tmpdir": str(tmp_path)}
    argsfile = tmp_path / "args.json"
    argsfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    out = subprocess.run([sys.executable, str(MODULE), str(argsfile)], capture_output=True, text=True, check=False,
                         env={"PYTHONPATH": ":".join(sys.path)})
    return json.loads(out.stdout[out.stdout.index("{"):])


@pytest.fixture
def lb(tmp_path):
    (tmp_path / "site.conf").write_text(render())
    return tmp_path


def test_drain_edits_the_line_records_it_and_says_so(lb):
    result = run(lb, name="app2", state="drain")
    assert result["changed"] and result["site_changed"] and result["previous_state"] == "active"
    assert (lb / "site.conf").read_text() == render([BACKENDS[0], dict(BACKENDS[1], state="drain")])
    assert json.loads((lb / "state.json").read_text()) == {"states": {"app2": "drain"}}
    again = run(lb, name="app2", state="drain")
    assert not again["changed"] and again["previous_state"] == "drain"


def test_check_mode_changes_nothing_and_shows_the_diff(lb):
    result = run(lb, check=True, name="app1", state="down")
    assert result["changed"]
    assert "down; # app1 down" in result["diff"][0]["after"]
    assert (lb / "site.conf").read_text() == render() and not (lb / "state.json").exists()


def test_a_candidate_refused_by_validate_changes_nothing(lb):
    result = run(lb, name="app2", state="drain", validate="false %s")
    assert result.get("failed") and "refused by validate" in result["msg"]
    assert (lb / "site.conf").read_text() == render() and not (lb / "state.json").exists()
    assert run(lb, name="app2", state="drain", validate="grep -q 'app2 drain' %s")["changed"]


def test_the_record_keeps_what_else_it_holds(lb):
    (lb / "state.json").write_text(json.dumps({"states": {"app1": "active"}, "added": [], "removed": ["app9"]}))
    run(lb, name="app2", state="down")
    assert json.loads((lb / "state.json").read_text()) == {
        "states": {"app1": "active", "app2": "down"}, "added": [], "removed": ["app9"]}


@pytest.mark.parametrize("args, fragment", [
    ({"name": "app9", "state": "drain"}, "not exactly one backend"),
    ({"name": "app1", "state": "asleep"}, "value of state must be one of"),
])
def test_refusals_change_nothing(lb, args, fragment):
    result = run(lb, **args)
    assert result.get("failed") and fragment in result["msg"]
    assert (lb / "site.conf").read_text() == render()


def test_the_last_active_backend_is_refused(lb):
    run(lb, name="app1", state="drain")
    result = run(lb, name="app2", state="drain")
    assert result.get("failed") and "no active backend" in result["msg"]
    assert "app2 drain" not in (lb / "site.conf").read_text()
