"""TLS from a real ACME server (Pebble, HTTP-01 over the network), redirects and Mozilla intermediate."""
import json
import re

import pytest
from conftest import CURL, LB, NAME, pebble_root
from molecule_helpers import playbook

testinfra_hosts = [LB]


@pytest.fixture(scope="module", autouse=True)
def trust_pebble(host):
    pebble_root(host)


def test_http_redirects_to_https(host):
    out = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}} %{{redirect_url}}' -H 'Host: {NAME}' http://127.0.0.1/api/whoami")
    assert out == f"301 https://{NAME}/api/whoami"


def test_acme_challenges_are_not_redirected(host):
    code = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: {NAME}' http://127.0.0.1/.well-known/acme-challenge/none")
    assert code == "404"


def test_https_serves_the_pebble_issued_chain(host):
    assert host.check_output(f"{CURL} -o /dev/null -w '%{{http_code}}' https://{NAME}/health") == "200"
    issuer = host.check_output(
        f"echo | openssl s_client -connect 127.0.0.1:443 -servername {NAME} 2>/dev/null | openssl x509 -noout -issuer"
    )
    assert "Pebble" in issuer


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_refused(host, version):
    # The client is allowed the old protocol (SECLEVEL=0); the server must say no.
    cmd = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {NAME} {version} -cipher DEFAULT@SECLEVEL=0")
    assert cmd.rc != 0
    assert "BEGIN CERTIFICATE" not in cmd.stdout


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_current_tls_accepted(host, version):
    cmd = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {NAME} {version}")
    assert cmd.rc == 0, cmd.stderr


def test_security_headers(host):
    headers = host.check_output(f"{CURL} -D - -o /dev/null https://{NAME}/api/whoami").lower()
    assert "strict-transport-security: max-age=63072000" in headers
    assert "x-frame-options: deny" in headers
    assert "x-content-type-options: nosniff" in headers


def test_renewal_swaps_the_certificate_without_restart(host):
    serial = f"echo | openssl s_client -connect 127.0.0.1:443 -servername {NAME} 2>/dev/null | openssl x509 -noout -serial"
    before = host.check_output(serial)
    master = host.check_output("systemctl show -p MainPID --value nginx")
    renew = host.run("REQUESTS_CA_BUNDLE=/etc/ssl/pebble-listener.pem certbot renew --force-renewal"
                     f" --no-random-sleep-on-renew --cert-name {NAME}")
    assert renew.rc == 0, renew.stderr
    after = host.check_output(serial)
    assert after != before
    assert host.check_output("systemctl show -p MainPID --value nginx") == master
    assert host.check_output(f"{CURL} -o /dev/null -w '%{{http_code}}' https://{NAME}/health") == "200"


def served_names(host):
    out = host.check_output(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {NAME} 2>/dev/null"
                            " | openssl x509 -noout -ext subjectAltName")
    return sorted(part.strip().removeprefix("DNS:") for part in out.splitlines()[-1].split(","))


def test_a_changed_name_list_reissues_the_certificate_at_once(host):
    """certbot_domains gains a name: the next run issues a certificate with it right away (not at
    the next renewal), NGINX serves it; back to one name, and then a dry run (--check --diff, the
    scenario's check-mode test) reports no change."""
    converge = "molecule/nginx_lb/converge.yml"
    two = json.dumps({"certbot_domains": [NAME, "www.koinonia.test"]})
    try:
        run = playbook(converge, "--limit", "mol-lb", "-e", two)
        assert run.returncode == 0, run.stdout[-3000:]
        assert served_names(host) == [NAME, "www.koinonia.test"]
    finally:
        back = playbook(converge, "--limit", "mol-lb")
    assert back.returncode == 0, back.stdout[-3000:]
    assert served_names(host) == [NAME]
    again = playbook(converge, "--limit", "mol-lb", "--check", "--diff")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert re.search(r"^mol-lb\s+: ok=\d+\s+changed=0\s", again.stdout[again.stdout.rindex("PLAY RECAP"):], re.M), \
        again.stdout[-3000:]


def test_renewal_timer_enabled(host):
    assert host.service("certbot.timer").is_enabled
