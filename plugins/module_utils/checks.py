# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Input checks shared by the koinonia.fleet filters and modules (no controller-only imports).

Each plugin collects every problem with its input as one line in a list and refuses them all
together; these helpers produce those lines in the same wording everywhere.
"""
from __future__ import annotations

import ipaddress
import math
import re

LABEL = r'[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?'
HOSTNAME = re.compile(rf'{LABEL}(?:\.{LABEL})*\.?')


def kind(value):
    """Name the builtin type behind Ansible's wrappers (str, not _AnsibleTaggedStr)."""
    return next(c.__name__ for c in type(value).__mro__ if c.__module__ == 'builtins')


def check_keys(data, known, required, errors):
    """Append an error for unknown keys and one for missing (or null) required keys.

    Returns the missing required keys, in the order of required.
    """
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)}; known keys are {', '.join(known)}")
    missing = [k for k in required if data.get(k) is None]
    if missing:
        errors.append(f"missing required key(s) {', '.join(missing)}")
    return missing


def number_error(name, value, minimum, maximum=None, floats=False):
    """Return why value is not an integer (any finite number with floats) in range, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float) if floats else int):
        return f"{name} must be {'a number' if floats else 'an integer'}, got {kind(value)} {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} must be a finite number, got {value!r}"
    if value < minimum or (maximum is not None and value > maximum):
        return (f"{name} must be between {minimum} and {maximum}, got {value}" if maximum is not None
                else f"{name} must be >= {minimum}, got {value}")
    return None


def url_host(value):
    """Return (host as it goes into a URL, key for duplicate detection), or raise ValueError.

    Accepts a hostname (trailing dot allowed, not all-numeric TLD), an IPv4 address, or an
    IPv6 address bare or bracketed (no zone index); IPv6 is rendered bracketed and compressed.
    The key is the compressed address, or the hostname lower-cased without its trailing dot.
    """
    if not isinstance(value, str) or not value:
        raise ValueError
    bare = value[1:-1] if value.startswith('[') and value.endswith(']') else value
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        ip = None
    if ip is not None and '%' not in bare and (ip.version == 6 or bare == value):
        return (f'[{ip.compressed}]' if ip.version == 6 else ip.compressed), ip.compressed
    if bare != value or len(bare) > 253 or not HOSTNAME.fullmatch(bare) \
            or bare.rstrip('.').rsplit('.', 1)[-1].isdigit():
        raise ValueError
    return bare, bare.rstrip('.').lower()
