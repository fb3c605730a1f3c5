"""koinonia-reserved-ip (roles/nginx_lb/files), keepalived's notify script for a DigitalOcean Reserved IP,
run as keepalived runs it, against a local HTTP server that records each call and answers as the test
scripts it. That server is a stand-in for DigitalOcean's API (unreachable from these machines), written from
its OpenAPI description: it proves what the script sends and how it treats each answer, not that
DigitalOcean answers so."""
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "nginx_lb" / "files" / "koinonia-reserved-ip"
TOKEN = "dop_v1_not-a-real-token-0123456789"
IP = "203.0.113.7"
ME = 4242


class StandIn(ThreadingHTTPServer):
    """Answers each (method, path) from a queue of (status, body, headers); records every call."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls, self.script = [], {}

    def on(self, method, path, *answers):
        self.script.setdefault((method, path), []).extend(answers)


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.calls.append({"method": self.command, "path": self.path, "body": body,
                                  "auth": self.headers.get("Authorization")})
        queue = self.server.script.get((self.command, self.path), [])
        status, doc, headers = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else (500, None, {}))
        raw = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def held_by(droplet):
    return 200, {"reserved_ip": {"ip": IP, "droplet": {"id": droplet} if droplet else None}}, {}


def action(status, ident=77):
    return {"action": {"id": ident, "status": status, "type": "assign_ip"}}


def run(api, tmp_path, state="MASTER", **conf):
    config = {"token": TOKEN, "reserved_ip": IP, "droplet_id": ME, "delay": 0.05, "timeout": 2,
              "api_url": f"http://127.0.0.1:{api.server_port}", "state_file": str(tmp_path / "vrrp.state"), **conf}
    path = tmp_path / "reserved-ip.json"
    path.write_text(json.dumps(config))
    return subprocess.run([sys.executable, str(SCRIPT), "INSTANCE", "VI_LB", state, "150"], capture_output=True, check=False,
                          text=True, timeout=60, env={"KOINONIA_RESERVED_IP_CONFIG": str(path), "PATH": "/usr/bin:/bin"})


def posts(api):
    return [c for c in api.calls if c["method"] == "POST"]


def test_master_assigns_the_address_to_its_droplet_and_waits_for_the_action(api, tmp_path):
    api.on("GET", f"/v2/reserved_ips/{IP}", held_by(9999))
    api.on("POST", f"/v2/reserved_ips/{IP}/actions", (201, action("in-progress"), {}))
    api.on("GET", f"/v2/reserved_ips/{IP}/actions/77", (200, action("in-progress"), {}), (200, action("completed"), {}))
    r = run(api, tmp_path)
    assert r.returncode == 0, r.stderr
    assert [c["body"] for c in posts(api)] == [{"type": "assign", "droplet_id": ME}]
    assert all(c["auth"] == f"Bearer {TOKEN}" for c in api.calls)
    assert [c["path"] for c in api.calls].count(f"/v2/reserved_ips/{IP}/actions/77") == 2
    assert f"attempt 1/10: {IP} is on droplet {ME}" in r.stderr


def test_an_address_already_here_is_left_alone(api, tmp_path):
    api.on("GET", f"/v2/reserved_ips/{IP}", held_by(ME))
    r = run(api, tmp_path)
    assert r.returncode == 0, r.stderr
    assert posts(api) == []


def test_failures_are_retried_with_a_log_line_per_attempt(api, tmp_path):
    api.on("GET", f"/v2/reserved_ips/{IP}", held_by(None))
    api.on("POST", f"/v2/reserved_ips/{IP}/actions",
           (500, {"id": "server_error", "message": "Server was unable to give you a response."}, {}),
           (422, {"id": "unprocessable_entity", "message": "Droplet already has a pending event."}, {}),
           (201, action("completed"), {}))
    r = run(api, tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(posts(api)) == 3
    lines = [line for line in r.stderr.splitlines() if "attempt" in line]
    assert len(lines) == 3
    assert "attempt 1/10: assign" in lines[0] and "HTTP 500" in lines[0] and "again in" in lines[0]
    assert "HTTP 422 (Droplet already has a pending event.)" in lines[1]


def test_it_gives_up_after_the_attempts_and_says_so(api, tmp_path):
    api.on("GET", f"/v2/reserved_ips/{IP}", held_by(None))
    api.on("POST", f"/v2/reserved_ips/{IP}/actions", (503, None, {}))
    r = run(api, tmp_path, attempts=3)
    assert r.returncode == 1
    assert len(posts(api)) == 3
    assert f"attempt 3/3: assign {IP} to droplet {ME}: HTTP 503; giving up" in r.stderr


def test_a_refused_token_is_not_retried_and_never_printed(api, tmp_path):
    api.on("GET", f"/v2/reserved_ips/{IP}", (401, {"id": "unauthorized", "message": "Unable to authenticate you"}, {}))
    r = run(api, tmp_path)
    assert r.returncode == 1
    assert len(api.calls) == 1
    assert "HTTP 401" in r.stderr and "not retried" in r.stderr
    assert TOKEN not in r.stdout + r.stderr


def test_a_host_no_longer_master_stops_retrying(api, tmp_path):
    api.on("GET", f"/v2/reserved_ips/{IP}", held_by(None))
    api.on("POST", f"/v2/reserved_ips/{IP}/actions", (500, None, {}))
    state = tmp_path / "vrrp.state"

    def demote():  # keepalived's next notify, BACKUP, while this one waits to retry
        while not posts(api):
            time.sleep(0.01)
        state.write_text("BACKUP 0\n")

    t = threading.Thread(target=demote)
    t.start()
    r = run(api, tmp_path, delay=0.5)
    t.join()
    assert r.returncode == 0, r.stderr
    assert len(posts(api)) == 1
    assert "no longer MASTER" in r.stderr


@pytest.mark.parametrize("state", ["BACKUP", "FAULT", "STOP"])
def test_other_states_are_recorded_and_call_nothing(api, tmp_path, state):
    r = run(api, tmp_path, state=state)
    assert r.returncode == 0, r.stderr
    assert api.calls == []
    assert (tmp_path / "vrrp.state").read_text().split()[0] == state


def test_a_configuration_without_a_token_is_refused_by_name(api, tmp_path):
    r = run(api, tmp_path, token="")
    assert r.returncode == 2
    assert "lacks token" in r.stderr
    assert api.calls == []


def test_a_configuration_that_is_not_an_object_is_refused(api, tmp_path):
    path = tmp_path / "reserved-ip.json"
    path.write_text("[]")
    r = subprocess.run([sys.executable, str(SCRIPT), "INSTANCE", "VI_LB", "MASTER", "150"], capture_output=True,
                       check=False, text=True, timeout=60, env={"KOINONIA_RESERVED_IP_CONFIG": str(path)})
    assert r.returncode == 2
    assert "must hold a JSON object, not list" in r.stderr
    assert api.calls == []
