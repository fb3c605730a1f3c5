"""The nginx_upstream module run as Ansible runs it (a subprocess with its arguments file) on a
site file in a temporary directory: check mode, diff, validation, the record, refusals."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

# Module tests run without the controller's ansible package (ansible-test units): the expected
# sites come from module_utils, the code the upstream_servers and upstream_states filters wrap.
from ansible_collections.koinonia.fleet.plugins.module_utils.upstream import apply_record, render_servers

MODULE = Path(__file__).resolve().parents[4] / "plugins" / "modules" / "nginx_upstream.py"
BACKENDS = [{'name': 'app1', 'address': '10.0.0.21', 'port': 3000},
            {'name': 'app2', 'address': '10.0.0.22', 'port': 3000}]


def render(backends=None):
    backends = BACKENDS if backends is None else backends
    return "upstream u {\n" + "".join(f"    {line}\n" for line in render_servers(backends)) + "}\n"


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
    assert oct((lb / "state.json").stat().st_mode & 0o777) == "0o644"
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


def role_render(record):
    """What the nginx_lb role renders from the inventory and this record."""
    return render(apply_record(BACKENDS, record))


def change(lb, **args):
    return run(lb, backends=BACKENDS, max_fails=3, fail_timeout="30s", **args)


def test_add_appends_a_backend_outside_the_inventory_as_the_role_would_render_it(lb):
    app3 = {"name": "app3", "address": "10.0.0.23", "port": 3001}
    result = change(lb, name="app3", state="active", address="10.0.0.23", port=3001)
    assert result["changed"] and result["previous_state"] == "absent"
    record = json.loads((lb / "state.json").read_text())
    assert record == {"added": [app3], "states": {"app3": "active"}}
    assert (lb / "site.conf").read_text() == role_render(record) == render(BACKENDS + [app3])
    assert not change(lb, name="app3", state="active", address="10.0.0.23", port=3001)["changed"]


def test_remove_takes_the_line_out_and_add_brings_an_inventory_backend_back_in_its_place(lb):
    result = change(lb, name="app1", state="absent")
    assert result["changed"] and result["previous_state"] == "active" and result["line"] == ""
    record = json.loads((lb / "state.json").read_text())
    assert record == {"removed": ["app1"]}
    assert (lb / "site.conf").read_text() == role_render(record) == render(BACKENDS[1:])
    assert not change(lb, name="app1", state="absent")["changed"]
    change(lb, name="app1", state="active", address="10.0.0.21", port=3000)
    assert (lb / "site.conf").read_text() == render()  # inventory order, not appended


@pytest.mark.parametrize("args, fragment", [
    ({"name": "app2", "state": "active", "address": "10.0.0.99", "port": 3000}, "is in the inventory at 10.0.0.22:3000"),
    ({"name": "app3", "state": "active", "address": "10.0.0.22", "port": 3000}, "duplicate server 10.0.0.22:3000"),
    ({"name": "app3", "state": "active", "address": "not a host", "port": 3000}, "address must be a hostname"),
    ({"name": "app9", "state": "drain", "address": "10.0.0.22", "port": 3000}, "duplicate server 10.0.0.22:3000"),
    ({"name": "app 9", "state": "active", "address": "10.0.0.29", "port": 3000}, "name must be one word"),
])
def test_bad_adds_and_removes_change_nothing(lb, args, fragment):
    result = change(lb, **args)
    assert result.get("failed") and fragment in result["msg"], result["msg"]
    assert (lb / "site.conf").read_text() == render() and not (lb / "state.json").exists()


def test_removing_the_last_active_backend_is_refused(lb):
    change(lb, name="app1", state="absent")
    result = change(lb, name="app2", state="absent")
    assert result.get("failed") and "empty" in result["msg"]
    assert (lb / "site.conf").read_text() == render(BACKENDS[1:])


def test_add_and_remove_need_the_inventory(lb):
    assert "backends" in run(lb, name="app1", state="absent")["msg"]
    assert "backends" in run(lb, name="app3", state="active", address="10.0.0.23", port=3000)["msg"]


def test_removing_an_added_backend_leaves_no_trace_in_the_record(lb):
    change(lb, name="app3", state="active", address="10.0.0.23", port=3000)
    change(lb, name="app3", state="absent")
    assert json.loads((lb / "state.json").read_text()) == {}
    assert (lb / "site.conf").read_text() == render()


def test_removing_what_is_not_there_changes_nothing_and_says_so(lb):
    result = change(lb, name="app9", state="absent")
    assert not result["changed"] and "app9 is not in this load balancer's upstream" in json.dumps(result["warnings"])
    change(lb, name="app3", state="active", address="10.0.0.23", port=3000)
    change(lb, name="app3", state="absent")
    assert not change(lb, name="app3", state="absent")["changed"]  # an added backend removed twice
    assert (lb / "site.conf").read_text() == render()


def test_an_inventory_backup_comes_back_as_a_backup(lb):
    backends = BACKENDS + [{"name": "app3", "address": "fd00::23", "port": 3000, "state": "backup"}]
    (lb / "site.conf").write_text(render(backends))
    args = {"backends": backends, "max_fails": 3, "fail_timeout": "30s"}
    run(lb, name="app3", state="absent", **args)
    # The inventory's address in another spelling is the same server.
    result = run(lb, name="app3", state="active", address="[FD00::23]", port=3000, **args)
    assert result["changed"] and "backup; # app3 backup" in result["line"]
    assert (lb / "site.conf").read_text() == render(backends)
    assert json.loads((lb / "state.json").read_text()) == {}


def test_an_integer_fail_timeout_renders_as_the_role_renders_it(lb):
    (lb / "site.conf").write_text(render_timeout := "upstream u {\n" + "".join(
        f"    {line}\n" for line in render_servers(BACKENDS, fail_timeout=10)) + "}\n")
    run(lb, name="app3", state="active", address="10.0.0.23", port=3000, backends=BACKENDS, max_fails=3, fail_timeout=10)
    record = json.loads((lb / "state.json").read_text())
    expected = "upstream u {\n" + "".join(
        f"    {line}\n" for line in render_servers(apply_record(BACKENDS, record), fail_timeout=10)) + "}\n"
    assert (lb / "site.conf").read_text() == expected != render_timeout
    assert "fail_timeout=10s;" in expected


def test_concurrent_changes_are_serialized_none_is_lost(tmp_path):
    """Two changes at once, each validation taking a second: without the lock both read the same
    site and record, and the second write undoes the first."""
    backends = BACKENDS + [{"name": "app3", "address": "10.0.0.23", "port": 3000}]
    (tmp_path / "site.conf").write_text(render(backends))
    procs = []
    for name in ("app2", "app3"):
        params = {"site": str(tmp_path / "site.conf"), "record": str(tmp_path / "state.json"), "name": name,
                  "state": "drain", "validate": "sh -c 'sleep 1; test -s \"$0\"' %s", "_ansible_tmpdir": str(tmp_path)}
        argsfile = tmp_path / f"args-{name}.json"
        argsfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
        procs.append(subprocess.Popen([sys.executable, str(MODULE), str(argsfile)], stdout=subprocess.PIPE, text=True,
                                      env={"PYTHONPATH": ":".join(sys.path)}))
    results = [json.loads(p.communicate(timeout=30)[0]) for p in procs]
    assert all(r["changed"] for r in results), results
    assert json.loads((tmp_path / "state.json").read_text()) == {"states": {"app2": "drain", "app3": "drain"}}
    site = (tmp_path / "site.conf").read_text()
    assert "# app2 drain" in site and "# app3 drain" in site


def test_a_change_not_remembered_edits_the_line_and_leaves_the_record(lb):
    (lb / "state.json").write_text(json.dumps({"states": {"app1": "down"}}))
    result = run(lb, name="app2", state="drain", remember=False)
    assert result["changed"] and result["site_changed"]
    assert "# app2 drain" in (lb / "site.conf").read_text()
    assert json.loads((lb / "state.json").read_text()) == {"states": {"app1": "down"}}


def test_a_change_not_remembered_creates_no_record(lb):
    """A deploy's drain on a load balancer with no record yet: no record appears (an empty file
    used to, and the nginx_lb role's next run could not parse it)."""
    assert run(lb, name="app2", state="drain", remember=False)["site_changed"]
    assert run(lb, name="app2", state="active", remember=False)["site_changed"]
    assert not (lb / "state.json").exists()
