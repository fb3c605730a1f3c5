"""Check that every role documents its variables once, in agreement: each variable in
defaults/main.yml is an option of meta/argument_specs.yml (entry point main, or the role's
entry points when it has no main) with the same
default, and each option of main with a default is in defaults/main.yml. A required option may
stand in defaults/main.yml as an empty placeholder, and one computed from facts ("{{ ... }}")
may leave the default out of its spec (its description says how it is computed). Exit 1 naming
each disagreement (run by `make lint`)."""
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def problems(role):
    defaults_file = role / "defaults" / "main.yml"
    spec_file = role / "meta" / "argument_specs.yml"
    if not spec_file.exists():
        return [f"{role.name}: no meta/argument_specs.yml"]
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    entry_points = yaml.safe_load(spec_file.read_text())["argument_specs"]
    # A role used only through tasks_from (rollout) documents its variables on those entry points.
    options = (entry_points["main"].get("options") or {}) if "main" in entry_points else \
        {k: v for entry in entry_points.values() for k, v in (entry.get("options") or {}).items()}
    out = []
    for name, value in defaults.items():
        if name not in options:
            out.append(f"{role.name}: {name} has a default but no argument spec")
        elif "default" not in options[name]:
            placeholder = options[name].get("required") and value in ("", [], {})  # documents a required one
            derived = isinstance(value, str) and "{{" in value  # computed from facts: the spec says how
            if not (placeholder or derived):
                out.append(f"{role.name}: {name} defaults to {value!r} in defaults/main.yml, but its spec has no default")
        elif options[name]["default"] != value:
            out.append(f"{role.name}: {name} defaults to {value!r} in defaults/main.yml "
                       f"and to {options[name]['default']!r} in its spec")
    for name, spec in options.items():
        if "default" in spec and name not in defaults:
            out.append(f"{role.name}: {name} has a default in its spec but none in defaults/main.yml")
        if spec.get("required") and name in defaults and "default" in spec:
            out.append(f"{role.name}: {name} is required and has a default")
    return out


def main():
    found = [line for role in sorted((ROOT / "roles").iterdir()) if role.is_dir() for line in problems(role)]
    for line in found:
        print(f"check-role-specs: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
