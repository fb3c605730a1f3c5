"""The http_probe module against a real HTTP server on loopback (and a real self-signed HTTPS one)."""
import http.server
import json
import ssl
import subprocess
import threading

import pytest

from ansible_collections.koinonia.fleet.plugins.modules.http_probe import probe


class Handler(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        Handler.hits.append(self.headers['Host'])
        if self.path == '/old':
            self.send_response(301)
            self.send_header('Location', 'https://api.example.test/old')
            self.end_headers()
            return
        if self.path == '/limited' and len(Handler.hits) % 2 == 0:
            self.send_response(429)
            self.end_headers()
            return
        body = json.dumps({'host': f'app{len(Handler.hits) % 3 + 1}', 'pid': 7}).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def test_counts_statuses_and_backends_and_sends_the_name_as_host(server):
    port = server.server_address[1]
    result = probe(f'http://api.example.test:{port}/health', connect_to='127.0.0.1', count=30, concurrency=4)
    assert result['statuses'] == {'200': 30}
    assert result['hosts'] == {'app1': 10, 'app2': 10, 'app3': 10}
    assert set(Handler.hits) == {f'api.example.test:{port}'}


def test_redirects_rate_limits_and_bodies(server):
    port = server.server_address[1]
    assert probe(f'http://api.example.test:{port}/old', connect_to='127.0.0.1')['locations'] == ['https://api.example.test/old']
    result = probe(f'http://api.example.test:{port}/limited', connect_to='127.0.0.1', count=10, return_bodies=True)
    assert result['statuses'] == {'200': 5, '429': 5}
    assert result['bodies'][0]['pid'] == 7


def test_no_answer_is_an_error_not_a_status():
    result = probe('http://127.0.0.1:9/health', count=3, timeout=1)
    assert result['statuses'] == {'error': 3}
    assert len(result['errors']) == 3


def test_certificate_checked_against_its_name(tmp_path):
    key, cert = tmp_path / 'key.pem', tmp_path / 'cert.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-keyout', str(key), '-out', str(cert), '-days', '1', '-subj', '/CN=api.example.test',
                    '-addext', 'subjectAltName=DNS:api.example.test'], check=True, capture_output=True)
    Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        good = probe(f'https://api.example.test:{port}/health', connect_to='127.0.0.1', ca_file=str(cert))
        assert good['statuses'] == {'200': 1} and good['certificate'] == {'verified': True}
        wrong = probe(f'https://other.example.test:{port}/health', connect_to='127.0.0.1', ca_file=str(cert))
        assert wrong['statuses'] == {'error': 1} and not wrong['certificate']['verified']
        assert 'other.example.test' in wrong['certificate']['error']
    finally:
        httpd.shutdown()
