#!/usr/bin/python
# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: apt_keyring
short_description: Build an APT repository's own C(signed-by) keyring from keys pinned by fingerprint
version_added: 0.1.0
description:
  - Downloads each key in O(keys) and writes the keys, as one binary OpenPGP keyring, to O(dest), the file an
    APT source names with C(signed-by). Nothing goes into APT's global trust (C(/etc/apt/trusted.gpg.d)).
  - A key with a O(keys[].fingerprint) is pinned; the downloaded file must hold a key with that full
    fingerprint, and only that key is kept. A key without one (a vendor's C(CURRENT) key, which rotates) is
    fetched again on every run and all its keys are kept, so a rotation reaches the keyring on the next run.
  - Every key that cannot be fetched or does not match its pin is reported at once, and then O(dest) is left
    as it was.
  - The keyring is written only when its content changes (the keys are exported in fingerprint order, so the
    same keys give the same bytes). Needs C(gpg) on the host.
options:
  dest:
    description: The keyring file to write.
    type: path
    required: true
  keys:
    description: The keys.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: Where the key is published (armored or binary).
        type: str
        required: true
      fingerprint:
        description: The key's full fingerprint (40 hexadecimal digits; spaces are ignored). Empty keeps every key the URL serves.
        type: str
        default: ""
  mode:
    description: The keyring's permissions (APT reads it as the unprivileged C(_apt) user).
    type: str
    default: "0644"
  timeout:
    description: Seconds per download.
    type: int
    default: 30
attributes:
  check_mode:
    description: Downloads and checks the keys, and reports whether O(dest) would change, without writing it.
    support: full
  diff_mode:
    description: The fingerprints in the keyring before and after.
    support: full
author: koinonia.fleet maintainers (@koinonia-fleet)
"""

EXAMPLES = r"""
- name: Datadog's repository keyring
  koinonia.fleet.apt_keyring:
    dest: /usr/share/keyrings/datadog-archive-keyring.gpg
    keys:
      - url: https://keys.datadoghq.com/DATADOG_APT_KEY_CURRENT.public
      - url: https://keys.datadoghq.com/DATADOG_APT_KEY_06462314.public
        fingerprint: D18886567EABAD8B2D2526900D826EB906462314
"""

RETURN = r"""
fingerprints:
  description: The primary keys' fingerprints in the keyring, sorted.
  returned: success
  type: list
  elements: str
  sample: [D18886567EABAD8B2D2526900D826EB906462314]
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")


def normalize_fingerprint(value):
    """'d188 8656 ...' -> 'D1888656...' (None when it is not 40 hexadecimal digits)."""
    text = re.sub(r"\s+", "", value or "").upper()
    return text if FINGERPRINT.match(text) else None


def primary_fingerprints(colons):
    """The primary keys' fingerprints in `gpg --with-colons` output, in order.

    A `fpr` record belongs to the `pub` (or `sub`) record before it; only the primary keys' count."""
    found, owner = [], None
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub", "sec", "ssb"):
            owner = fields[0]
        elif fields[0] == "fpr" and owner in ("pub", "sec") and len(fields) > 9:
            found.append(fields[9].upper())
            owner = None
    return found


def check_pins(fetched, wanted):
    """Errors for keys whose files lack their pinned fingerprint: fetched maps url -> fingerprints found,
    wanted is a list of (url, fingerprint or '')."""
    errors = []
    for url, pin in wanted:
        if pin and pin not in fetched.get(url, []):
            found = ", ".join(fetched.get(url, [])) or "no key"
            errors.append(f"{url} does not hold the pinned key {pin} (it holds {found})")
    return errors


class Gpg:
    """A throwaway GnuPG home: nothing touches root's keyrings."""

    def __init__(self, module):
        self.module = module
        self.home = tempfile.mkdtemp(prefix="apt-keyring-")
        os.chmod(self.home, 0o700)

    def run(self, args, data=None, binary=False):
        cmd = [self.module.get_bin_path("gpg", required=True), "--homedir", self.home, "--batch", "--no-tty",
               "--no-options", "--quiet"] + args
        rc, out, err = self.module.run_command(cmd, data=data, binary_data=binary, encoding=None if binary else "utf-8")
        return rc, out, err

    def show(self, path):
        rc, out, _err = self.run(["--with-colons", "--import-options", "show-only", "--import", path])
        return primary_fingerprints(out) if rc == 0 else None

    def close(self):
        shutil.rmtree(self.home, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            keys=dict(type="list", elements="dict", required=True, no_log=False, options=dict(
                url=dict(type="str", required=True),
                fingerprint=dict(type="str", default=""),
            )),
            mode=dict(type="str", default="0644"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    dest, keys = module.params["dest"], module.params["keys"]
    errors, wanted = [], []
    for key in keys:
        pin = ""
        if key["fingerprint"]:
            pin = normalize_fingerprint(key["fingerprint"])
            if pin is None:
                errors.append(f"keys: the fingerprint {key['fingerprint']!r} of {key['url']} is not 40 hexadecimal digits")
                continue
        wanted.append((key["url"], pin))
    if not keys:
        errors.append("keys must name at least one key")
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors)

    gpg = Gpg(module)
    try:
        fetched, export = {}, []
        for index, (url, pin) in enumerate(wanted):
            response, info = fetch_url(module, url, timeout=module.params["timeout"])
            if response is None or info.get("status") not in (200, None):  # None: a file:// URL
                errors.append(f"{url}: {info.get('status')} {info.get('msg', '')}".strip())
                continue
            path = os.path.join(gpg.home, f"key{index}")
            with open(path, "wb") as handle:
                handle.write(response.read())
            found = gpg.show(path)
            if not found:
                errors.append(f"{url} is not an OpenPGP public key")
                continue
            fetched[url] = found
            rc, _out, err = gpg.run(["--import", path])
            if rc != 0:
                errors.append(f"{url}: gpg --import failed: {err.strip()}")
                continue
            export.extend([pin] if pin else found)
        errors.extend(check_pins(fetched, [(url, pin) for url, pin in wanted if url in fetched]))
        if errors:
            module.fail_json(msg="No keyring written: " + "; ".join(errors), errors=errors)

        fingerprints = sorted(set(export))
        rc, keyring, err = gpg.run(["--export"] + fingerprints, binary=True)
        if rc != 0 or not keyring:
            module.fail_json(msg=f"gpg --export failed: {err!r}")

        before = []
        current = b""
        if os.path.exists(dest):
            with open(dest, "rb") as handle:
                current = handle.read()
            before = gpg.show(dest) or []
        changed = current != keyring
        if changed and not module.check_mode:
            directory = os.path.dirname(dest) or "."
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".apt-keyring-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(keyring)
            module.atomic_move(tmp, dest)
        file_args = module.load_file_common_arguments(dict(path=dest, mode=module.params["mode"], owner="root",
                                                           group="root"))
        if os.path.exists(dest):
            changed = module.set_fs_attributes_if_different(file_args, changed)
        diff = dict(before="\n".join(sorted(before)) + "\n" if before else "",
                    after="\n".join(fingerprints) + "\n", before_header=dest, after_header=dest)
        module.exit_json(changed=changed, fingerprints=fingerprints, diff=diff)
    finally:
        gpg.close()


if __name__ == "__main__":
    main()
