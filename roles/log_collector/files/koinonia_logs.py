# Copyright (c) koinonia.fleet maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""koinonia-logs: find the fleet's log lines on the log host (koinonia.fleet.log_collector).

The lines are kept one file per day of arrival, <dir>/<YYYY-MM-DD>.log, each "<host> <tag> <line>",
the line being the JSON the app or NGINX wrote. Every filter given must match:

  koinonia-logs --request-id 6f1c...            # the NGINX and the app line of one request
  koinonia-logs --church-id 42 --error-type database --since 2026-11-30T10:00 --until 2026-11-30T11:00
  koinonia-logs --request-id 'drill-*' --count   # globs, and only the count

Prints the matching lines as JSON (with "host" and "source" added), oldest file first; exits 0
when something matched, 1 when nothing did, 2 on bad arguments.
"""
import argparse
import datetime
import fnmatch
import json
import os
import re
import sys

DAY_FILE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.log$")


def parse_time(text):
    """An ISO 8601 time (date only, no zone: UTC) as an aware datetime."""
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def parse_line(raw):
    """'<host> <tag> <json>' as a dict with host and source added, or None for anything else."""
    parts = raw.rstrip("\n").split(" ", 2)
    if len(parts) != 3:
        return None
    host, tag, text = parts
    try:
        fields = json.loads(text)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    return {**fields, "host": host, "source": tag.rstrip(":")}


def matches(entry, args):
    for name in ("request_id", "church_id", "error_type", "host", "source"):
        wanted = getattr(args, name)
        if wanted is None:
            continue
        value = entry.get(name)
        if value is None or not fnmatch.fnmatchcase(str(value), wanted):
            return False
    if args.since or args.until:
        try:
            when = parse_time(str(entry.get("time")))
        except ValueError:
            return False
        if (args.since and when < args.since) or (args.until and when >= args.until):
            return False
    return True


def day_files(directory, since, until):
    """The day files that may hold lines of [since, until): a line arrives a little after it is written."""
    out = []
    for name in sorted(os.listdir(directory)):
        match = DAY_FILE.match(name)
        if not match:
            continue
        day = datetime.date(*map(int, match.groups()))
        if since and day < (since - datetime.timedelta(days=1)).date():
            continue
        if until and day > (until + datetime.timedelta(days=1)).date():
            continue
        out.append(os.path.join(directory, name))
    return out


def search(args, out=sys.stdout):
    found = 0
    for path in day_files(args.dir, args.since, args.until):
        with open(path, encoding="utf-8", errors="replace") as lines:
            for raw in lines:
                entry = parse_line(raw)
                if entry is not None and matches(entry, args):
                    found += 1
                    if not args.count:
                        out.write(json.dumps(entry, sort_keys=True) + "\n")
    if args.count:
        out.write(f"{found}\n")
    return found


def arguments(argv):
    parser = argparse.ArgumentParser(prog="koinonia-logs", description=__doc__.splitlines()[0])
    parser.add_argument("--request-id", help="the request id (X-Request-ID); globs such as 'drill-*' work")
    parser.add_argument("--church-id", help="the church id (X-Church-ID)")
    parser.add_argument("--error-type", help="the error type of a failed request (database, redis, deadline, ...)")
    parser.add_argument("--host", help="the host that wrote the line (its host name)")
    parser.add_argument("--source", help="koinonia-app or nginx-access")
    parser.add_argument("--since", type=parse_time, help="lines written at or after this time (ISO 8601; UTC if no zone)")
    parser.add_argument("--until", type=parse_time, help="lines written before this time")
    parser.add_argument("--count", action="store_true", help="print only how many lines match")
    parser.add_argument("--dir", default="/var/log/koinonia", help="where the day files are (default: %(default)s)")
    args = parser.parse_args(argv)
    if not any(getattr(args, n) for n in ("request_id", "church_id", "error_type", "host", "source", "since", "until")):
        parser.error("give at least one filter (--request-id, --church-id, --error-type, --host, --source, --since, --until)")
    return args


def main(argv=None):
    args = arguments(sys.argv[1:] if argv is None else argv)
    return 0 if search(args) else 1


if __name__ == "__main__":
    sys.exit(main())
