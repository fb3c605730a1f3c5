"""Third-party audits of the LB as it runs: gixy-ng over the rendered /etc/nginx tree reports
nothing, and sslyze finds the HTTPS endpoint compliant with Mozilla's "intermediate" profile
(Pebble's root as the trusted CA). Both run on the controller, from the test venv."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import NAME, pebble_root
from molecule_helpers import address, node

LB_CONTAINER = "mol-lb"


def gixy(edit=None):
    """gixy-ng's findings (plugin names) over a copy of the LB's /etc/nginx, optionally edited."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["docker", "cp", f"{LB_CONTAINER}:/etc/nginx", tmp], check=True)
        tree = Path(tmp) / "nginx"
        for path in tree.rglob("*"):  # absolute includes point into the copy
            if path.is_file() and not path.is_symlink():
                text = path.read_text(errors="replace")
                if "/etc/nginx/" in text:
                    path.write_text(text.replace("/etc/nginx/", f"{tree}/"))
        if edit:
            edit(tree)
        run = subprocess.run([str(Path(sys.executable).parent / "gixy"), "-f", "json", str(tree / "nginx.conf")],
                             capture_output=True, text=True, check=False)
    assert run.stdout.strip().startswith("["), run.stderr[-2000:]
    return [finding.get("plugin") for finding in json.loads(run.stdout)]


def test_gixy_finds_nothing_in_the_rendered_config():
    assert gixy() == []


def test_gixy_reads_the_whole_tree():
    """The control: a finding planted in the site (reached only through includes) is reported."""
    def plant(tree):
        site = tree / "conf.d" / "koinonia-lb.conf"
        site.write_text(site.read_text().replace("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1 TLSv1.2 TLSv1.3;"))
    assert "weak_ssl_tls" in gixy(plant)


def test_sslyze_finds_mozilla_intermediate_compliance():
    lb = node(LB_CONTAINER)
    pebble_root(lb)
    lb_address = address(LB_CONTAINER)
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca:
        ca.write(lb.check_output("cat /var/tmp/pebble-root.pem") + "\n")
        ca.flush()
        run = subprocess.run([sys.executable, "-m", "sslyze", "--mozilla_config=intermediate",
                              f"--certinfo_ca_file={ca.name}", f"{NAME}:443{{{lb_address}}}"],
                             capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{NAME}:443: OK - Compliant." in run.stdout, run.stdout[-4000:]
