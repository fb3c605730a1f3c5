"""A directive NGINX rejects never replaces the working configuration."""
from conftest import CURL, LB, NAME, pebble_root
from molecule_helpers import flat, playbook

testinfra_hosts = [LB]


def test_bad_directive_fails_validation_and_lb_keeps_serving(host):
    pebble_root(host)
    conf = host.file("/etc/nginx/conf.d/koinonia-lb.conf").sha256sum
    result = playbook("molecule/nginx_lb/refusals.yml")
    assert result.returncode != 0
    assert "failed to validate" in flat(result.stdout + result.stderr)
    assert host.file("/etc/nginx/conf.d/koinonia-lb.conf").sha256sum == conf
    assert host.check_output(f"{CURL} -o /dev/null -w '%{{http_code}}' https://{NAME}/health") == "200"
