"""The load balancer spreads requests over the backends and keeps its status page internal."""
import json
import os

import testinfra

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
testinfra_hosts = [f"ansible://mol-lb?ansible_inventory={INVENTORY}"]


def test_nginx_running(host):
    assert host.service("nginx").is_running
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_config_valid(host):
    assert host.run("nginx -t").rc == 0


def test_requests_reach_every_backend(host):
    seen = set()
    for _ in range(12):
        reply = json.loads(host.check_output("curl -sf -m 5 http://127.0.0.1/api/whoami"))
        seen.add(reply["host"])
    assert seen == {"mol-app-a", "mol-app-b"}


def test_health_through_lb(host):
    assert host.check_output("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/health") == "200"


def test_stub_status_allowed_locally(host):
    out = host.check_output("curl -sf http://127.0.0.1:8080/nginx_status")
    assert out.startswith("Active connections:")


def test_stub_status_denied_elsewhere(host):
    app = testinfra.get_host(f"ansible://mol-app-a?ansible_inventory={INVENTORY}")
    code = app.check_output("curl -s -o /dev/null -w '%{http_code}' http://mol-lb:8080/nginx_status")
    assert code == "403"
