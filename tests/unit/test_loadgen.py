"""tests/loadgen.py against a real HTTP server on loopback: what it counts as failed, the
keep-alive handling, its bounds, and its refusal of targets off this machine."""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import loadgen  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def dropped(self):
        """/drop: close without an answer; /flaky: answer the first request of a connection and
        close under the second (a keep-alive connection closed under a request)."""
        self.served = getattr(self, "served", 0) + 1  # one handler per connection
        if self.path == "/drop" or (self.path == "/flaky" and self.served > 1):
            self.close_connection = True
            return True
        return False

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.dropped():
            return
        status = {"/ok": 200, "/flaky": 200, "/dep": 503}.get(self.path, 404)
        body = b'{"host": "h1", "version": "1.0"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/ok" and self.server.close_after and self.server.count_ok():
            self.close_connection = True  # the server closes an idle keep-alive connection

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        self.rfile.read(length)
        self.server.posts += 1
        if self.dropped():
            return
        body = b'{"id": "7"}'
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.close_after = 0
    srv.posts = 0
    lock, seen = threading.Lock(), [0]

    def count_ok():
        with lock:
            seen[0] += 1
            return seen[0] % srv.close_after == 0

    srv.count_ok = count_ok
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv):
    return f"http://127.0.0.1:{srv.server_address[1]}"


def test_counts_answers_and_failures_by_kind(server):
    run = loadgen.Load(url(server), ["ok GET /ok 2 0", "dep GET /dep 1 0", "gone GET /nothing 1 0"],
                       max_requests=200, duration=20).start().wait()
    summary = run.summary()
    assert summary["requests"] == 200
    routes = summary["routes"]
    assert routes["ok"]["failed"] == 0 and routes["ok"]["hosts"] == {"h1": routes["ok"]["requests"]}
    assert routes["dep"]["failures_by_kind"] == {"http_503": routes["dep"]["requests"]}
    assert routes["gone"]["failures_by_kind"] == {"http_404": routes["gone"]["requests"]}
    assert summary["failed"] == routes["dep"]["requests"] + routes["gone"]["requests"]
    assert summary["p50_ms"] is not None and summary["max_ms"] >= summary["p99_ms"] >= summary["p50_ms"]


def test_a_connection_the_server_closed_is_not_a_failure(server):
    server.close_after = 5
    summary = loadgen.Load(url(server), ["ok GET /ok 1 0"], max_requests=50).start().wait().summary()
    assert summary["failed"] == 0
    assert summary["keepalive_closed"] + summary["keepalive_resets"] >= 9


def test_a_refused_connection_is_a_failure():
    summary = loadgen.Load("http://127.0.0.1:9", ["x GET / 1 0"], max_requests=3).start().wait().summary()
    assert summary["failures_by_kind"] == {"refused": 3}


def test_writes_report_the_ids_the_server_returned(server):
    summary = loadgen.Load(url(server), ["w POST /api/messages 1 0"], max_requests=4).start().wait().summary()
    assert summary["written"] == ["7"] * 4


def test_rate_and_duration_bound_the_run(server):
    summary = loadgen.Load(url(server), ["ok GET /ok 1 10"], duration=1.0).start().wait().summary()
    assert 5 <= summary["requests"] <= 12
    assert summary["seconds"] < 3


@pytest.mark.parametrize("spec", ["ok GET /ok", "ok DELETE /ok 1 1", "ok GET ok 1 1", "ok GET /ok 0 1"])
def test_bad_route_specs_are_refused(spec):
    with pytest.raises(ValueError):
        loadgen.Route.parse(spec)


def test_targets_off_this_machine_are_refused():
    with pytest.raises(SystemExit, match="not on this machine"):
        loadgen.check_target("192.0.2.1")  # TEST-NET-1: never on-link here; nothing is sent


def test_a_connection_closed_under_a_fresh_request_is_a_failure(server):
    summary = loadgen.Load(url(server), ["x GET /drop 1 0"], max_requests=3).start().wait().summary()
    assert summary["failures_by_kind"] == {"reset": 3}
    assert summary["keepalive_resets"] == 0


def test_an_idempotent_request_is_retried_once_after_a_keepalive_reset(server):
    summary = loadgen.Load(url(server), ["x GET /flaky 1 0"], max_requests=4).start().wait().summary()
    assert summary["failed"] == 0
    assert summary["keepalive_resets"] == 3  # requests 2, 3 and 4 each met a closed connection first


def test_a_post_is_never_retried(server):
    summary = loadgen.Load(url(server), ["w POST /flaky 1 0"], max_requests=2).start().wait().summary()
    assert summary["failures_by_kind"] == {"keepalive_reset": 1}
    assert summary["keepalive_resets"] == 0
    assert server.posts == 2  # each sent once


def test_new_connections_follow_the_target_file(tmp_path):
    """As clients follow DNS: after the file names another server, new connections go there."""
    servers = []
    for _server in range(2):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads, srv.close_after, srv.posts = True, 0, 0
        srv.count_ok = lambda: False
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    try:
        dns = tmp_path / "dns"
        dns.write_text(f"{url(servers[0])}\n")
        load = loadgen.Load("", ["ok GET /ok 1 50"], duration=1.2, new_connection=True, target_file=str(dns)).start()
        threading.Timer(0.5, lambda: dns.write_text(f"{url(servers[1])} api.example.test\n")).start()
        summary = load.wait().summary()
        assert summary["failed"] == 0
        assert set(summary["targets"]) == {url(servers[0]), url(servers[1])}
        assert min(summary["targets"].values()) >= 10
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()


def test_a_target_file_off_this_machine_is_refused(tmp_path):
    dns = tmp_path / "dns"
    dns.write_text("https://192.0.2.10\n")
    with pytest.raises(SystemExit, match="refused"):
        loadgen.Load("", ["x GET / 1 0"], target_file=str(dns))
