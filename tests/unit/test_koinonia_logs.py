"""koinonia-logs, the log host's search command (roles/log_collector/files/koinonia_logs.py), on
day files as rsyslog writes them: every filter, globs, the time range across files, lines that
are not JSON, and the exit codes."""
import importlib.util
import io
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "log_collector" / "files" / "koinonia_logs.py"
spec = importlib.util.spec_from_file_location("koinonia_logs", SCRIPT)
koinonia_logs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(koinonia_logs)

APP = {"time": "2026-11-30T23:59:59.500Z", "level": "error", "event": "request", "route": "/api/messages",
       "status": 503, "request_id": "rid-1", "church_id": "42", "error_type": "database"}
NGINX = {"time": "2026-11-30T23:59:59+00:00", "request_id": "rid-1", "church_id": "42", "status": 503}
LATER = {"time": "2026-12-01T00:00:01.000Z", "event": "request", "request_id": "drill-7", "church_id": "43",
         "status": 200, "error_type": None}


@pytest.fixture
def logs(tmp_path):
    (tmp_path / "2026-11-30.log").write_text(
        f"at-app1 koinonia-app {json.dumps(APP)}\n"
        f"at-lb1 nginx-access {json.dumps(NGINX)}\n"
        "at-app1 koinonia-app not json at all\n"
        "a line too short\n")
    # Written just before midnight, arrived after it: filed under the next day.
    (tmp_path / "2026-12-01.log").write_text(f"at-app2 koinonia-app {json.dumps(LATER)}\n")
    (tmp_path / "notes.txt").write_text("not a day file\n")
    return tmp_path


def run(logs, *argv):
    out = io.StringIO()
    found = koinonia_logs.search(koinonia_logs.arguments([*argv, "--dir", str(logs)]), out)
    return found, [json.loads(line) for line in out.getvalue().splitlines()] if "--count" not in argv else out.getvalue()


def test_a_request_id_finds_its_nginx_and_app_lines_with_host_and_source(logs):
    found, lines = run(logs, "--request-id", "rid-1")
    assert found == 2
    assert [(line["host"], line["source"], line["status"]) for line in lines] == [
        ("at-app1", "koinonia-app", 503), ("at-lb1", "nginx-access", 503)]


def test_every_filter_must_match(logs):
    assert run(logs, "--church-id", "42", "--error-type", "database")[0] == 1
    assert run(logs, "--church-id", "42", "--error-type", "redis")[0] == 0
    assert run(logs, "--church-id", "42", "--source", "nginx-access")[0] == 1
    assert run(logs, "--church-id", "42", "--host", "at-app*")[0] == 1


def test_globs_and_count(logs):
    assert run(logs, "--request-id", "drill-*", "--count") == (1, "1\n")


def test_the_time_range_uses_the_lines_own_time_across_day_files(logs):
    found, lines = run(logs, "--since", "2026-11-30T23:59:59.400Z", "--until", "2026-12-01T00:00:02")
    assert [line["request_id"] for line in lines] == ["rid-1", "drill-7"], lines
    assert run(logs, "--since", "2026-12-01")[1] == [dict(LATER, host="at-app2", source="koinonia-app")]
    assert run(logs, "--until", "2026-11-30T23:59:59+00:00")[0] == 0  # until is exclusive


def test_exit_codes(logs, capsys):
    assert koinonia_logs.main(["--request-id", "rid-1", "--dir", str(logs)]) == 0
    assert koinonia_logs.main(["--request-id", "nope", "--dir", str(logs)]) == 1
    with pytest.raises(SystemExit) as refused:
        koinonia_logs.main(["--dir", str(logs)])
    assert refused.value.code == 2
    assert "give at least one filter" in capsys.readouterr().err
