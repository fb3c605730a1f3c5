# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side refusals of the koinonia.fleet filter plugins (AnsibleFilterError); the
checks' shared wording is module_utils.checks, which the modules use too.
"""
from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.koinonia.fleet.plugins.module_utils.checks import kind


def expect_dict(filter_name, data):
    """Raise unless data is a dict (any Mapping)."""
    if not isinstance(data, Mapping):
        raise AnsibleFilterError(f"{filter_name} expects a dict, got {kind(data)}")


def refuse_if(errors, what):
    """Raise one AnsibleFilterError listing errors one per line after 'what:', if there are any."""
    if errors:
        raise AnsibleFilterError(f'{what}:\n' + '\n'.join(errors))
