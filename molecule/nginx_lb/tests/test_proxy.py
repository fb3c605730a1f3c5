"""Proxying: spread over the backends, request ids, WebSocket upgrades, rate limits, status page."""
import json

import pytest
from conftest import CURL, LB, NAME, codes, load, pebble_root
from molecule_helpers import node

testinfra_hosts = [LB]


@pytest.fixture(scope="module", autouse=True)
def trust_pebble(host):
    pebble_root(host)


def test_config_valid(host):
    assert host.run("nginx -t").rc == 0


def test_requests_reach_every_backend(host):
    seen = {json.loads(host.check_output(f"{CURL} https://{NAME}/api/whoami"))["host"] for _ in range(12)}
    assert seen == {"mol-app-a", "mol-app-b"}


def test_request_id_kept_and_logged_as_json(host):
    headers = host.check_output(f"{CURL} -D - -o /dev/null -H 'X-Request-ID: molecule-rid-1' https://{NAME}/api/whoami")
    assert "x-request-id: molecule-rid-1" in headers.lower()
    line = host.check_output("grep molecule-rid-1 /var/log/nginx/koinonia-access.log | tail -n 1")
    entry = json.loads(line)
    assert entry["status"] == 200
    assert entry["upstream_addr"].endswith(":3000")
    assert entry["upstream_response_time"]


def test_request_id_made_when_absent(host):
    headers = host.check_output(f"{CURL} -D - -o /dev/null https://{NAME}/api/whoami").lower()
    rid = [h for h in headers.splitlines() if h.startswith("x-request-id:")]
    assert rid and len(rid[0].split(":", 1)[1].strip()) == 32


def test_websocket_handshake(host):
    out = host.check_output(
        f"{CURL} --http1.1 -i -N -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
        f"-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' https://{NAME}/ws | head -n 12"
    )
    assert out.startswith("HTTP/1.1 101")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in out


def test_api_limit_answers_429():
    # 300 requests as fast as 4 keep-alive clients go (hundreds a second, far above the API zone's
    # 100 r/s and burst 20), from the controller (tests/loadgen.py): a curl per request from the
    # LB itself was not always fast enough to pass the limit on a loaded machine.
    summary = load(["burst GET /api/whoami 4 0"], max_requests=300, duration=60).start().wait().summary()
    assert summary["requests"] == 300
    assert summary["failures_by_kind"].get("http_429", 0) > 0, summary
    assert summary["ok"] > 0
    assert set(summary["failures_by_kind"]) <= {"http_429"}, summary["first_failures"]


def test_exempt_network_never_limited(host):
    """nginx_lb_rate_limit_exempt (loopback here): 300 API requests, 30 at a time, far past the API zone's burst
    of 20, all answered; the same burst from the controller gets 429s (above)."""
    seen = codes(host, f"https://{NAME}/api/whoami", count=300, parallel=30)
    assert set(seen) == {"200"}, {code: seen.count(code) for code in set(seen)}


def test_health_never_limited(host):
    seen = codes(host, f"https://{NAME}/health", count=300, parallel=30)
    assert set(seen) == {"200"}


def test_stub_status_allowed_locally(host):
    out = host.check_output("curl -sf http://127.0.0.1:8080/nginx_status")
    assert out.startswith("Active connections:")


def test_stub_status_denied_elsewhere():
    app = node("mol-app-a")
    assert app.check_output("curl -s -o /dev/null -w '%{http_code}' http://mol-lb:8080/nginx_status") == "403"


def accepted(host):
    out = host.check_output("curl -fsS http://127.0.0.1:9113/metrics")
    assert "nginx_up 1" in out.splitlines()
    return int(float(next(line.split()[1] for line in out.splitlines()
                           if line.startswith("nginx_connections_accepted "))))


def test_the_nginx_exporter_reads_the_status_page_on_loopback_only(host):
    ours = {s for s in host.socket.get_listening_sockets() if s.endswith(":9113")}
    assert ours == {"tcp://127.0.0.1:9113"}
    before = accepted(host)
    for _ in range(3):
        host.check_output(f"{CURL} -o /dev/null https://{NAME}/health")
    # Three connections through the LB, and the exporter's own to stub_status.
    assert accepted(host) >= before + 3
