"""Third-party audits of the LB as it runs: gixy-ng over the rendered /etc/nginx tree reports
nothing, and sslyze finds the HTTPS endpoint compliant with Mozilla's "intermediate" profile
(Pebble's root as the trusted CA). Both run on the controller, from the test venv."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import NAME, node, pebble_root

LB_CONTAINER = "mol-lb"


def test_gixy_finds_nothing_in_the_rendered_config():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["docker", "cp", f"{LB_CONTAINER}:/etc/nginx", tmp], check=True)
        tree = Path(tmp) / "nginx"
        for path in tree.rglob("*"):  # absolute includes point into the copy
            if path.is_file() and not path.is_symlink():
                text = path.read_text(errors="replace")
                if "/etc/nginx/" in text:
                    path.write_text(text.replace("/etc/nginx/", f"{tree}/"))
        run = subprocess.run([str(Path(sys.executable).parent / "gixy"), "-f", "json", str(tree / "nginx.conf")],
                             capture_output=True, text=True, check=False)
    findings = json.loads(run.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:3000]
    assert run.returncode == 0, run.stderr[-2000:]


def test_sslyze_finds_mozilla_intermediate_compliance():
    lb = node(LB_CONTAINER)
    pebble_root(lb)
    address = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                              LB_CONTAINER], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca:
        ca.write(lb.check_output("cat /var/tmp/pebble-root.pem") + "\n")
        ca.flush()
        run = subprocess.run([sys.executable, "-m", "sslyze", "--mozilla_config=intermediate",
                              f"--certinfo_ca_file={ca.name}", f"{NAME}:443{{{address}}}"],
                             capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{NAME}:443: OK - Compliant." in run.stdout, run.stdout[-4000:]
