"""The systemd_dropin module run as Ansible runs it, on a temporary directory."""
import json
import subprocess
import sys
from pathlib import Path

MODULE = Path(__file__).resolve().parents[4] / "plugins" / "modules" / "systemd_dropin.py"


def run(tmp_path, check=False, **args):
    params = {"directory": str(tmp_path), **args, "_ansible_check_mode": check, "_ansible_diff": True,
              "_ansible_tmpdir": str(tmp_path)}
    argsfile = tmp_path / "args.json"
    argsfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    out = subprocess.run([sys.executable, str(MODULE), str(argsfile)], capture_output=True, text=True, check=False,
                         env={"PYTHONPATH": ":".join(sys.path)})
    return json.loads(out.stdout[out.stdout.index("{"):])


def test_writes_the_dropin_once(tmp_path):
    result = run(tmp_path, unit="pgbouncer.service", settings={"Service": {"LimitNOFILE": 4096}})
    path = tmp_path / "pgbouncer.service.d" / "koinonia.conf"
    assert result["changed"] and result["path"] == str(path)
    assert path.read_text() == ("# Managed by koinonia.fleet; local changes are overwritten.\n\n"
                                "[Service]\nLimitNOFILE=4096\n")
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not run(tmp_path, unit="pgbouncer.service", settings={"Service": {"LimitNOFILE": 4096}})["changed"]


def test_lists_repeat_the_key_booleans_are_words_empty_sections_left_out(tmp_path):
    run(tmp_path, unit="certbot.service",
        settings={"Service": {"Environment": ["A=1", "B=2"], "PrivateUsers": False}, "Unit": {}})
    text = (tmp_path / "certbot.service.d" / "koinonia.conf").read_text()
    assert text.endswith("[Service]\nEnvironment=A=1\nEnvironment=B=2\nPrivateUsers=false\n")
    assert "[Unit]" not in text


def test_check_mode_shows_the_diff_and_writes_nothing(tmp_path):
    result = run(tmp_path, check=True, unit="redis-server.service", settings={"Service": {"PrivateUsers": True}})
    assert result["changed"] and "PrivateUsers=true" in result["diff"]["after"]
    assert not (tmp_path / "redis-server.service.d").exists()


def test_absent_removes_it(tmp_path):
    run(tmp_path, unit="redis-server.service", settings={"Service": {"PrivateUsers": True}})
    assert run(tmp_path, unit="redis-server.service", state="absent")["changed"]
    assert not (tmp_path / "redis-server.service.d" / "koinonia.conf").exists()
    assert not run(tmp_path, unit="redis-server.service", state="absent")["changed"]


def test_bad_names_and_values_are_refused_all_at_once(tmp_path):
    result = run(tmp_path, unit="pgbouncer.service", settings={"Service": {"Bad Key": 1, "Env": "a\nb", "Limit": None}})
    assert result.get("failed") and "'Bad Key'" in result["msg"] and "'a\\nb'" in result["msg"]
    assert "'Limit'=None" in result["msg"]
    assert "must be a unit name" in run(tmp_path, unit="../etc", settings={})["msg"]
    assert not any(tmp_path.glob("*.d"))
