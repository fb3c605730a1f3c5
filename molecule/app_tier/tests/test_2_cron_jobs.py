"""Single-runner cron jobs: the recurring-messages job is scheduled every minute on all three
backends and must run exactly once a minute (it posts a message; PostgreSQL records which
backend ran it). The fleet has been running it since the converge."""
import datetime
import time

import fleet
from fleet import BACKENDS, sql

BODY = "recurring-messages tick"


def runs_per_minute():
    rows = sql("SELECT to_char(date_trunc('minute', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI'), host "
               f"FROM messages WHERE body = '{BODY}' ORDER BY created_at")
    minutes = {}
    for minute, name in rows:
        minutes.setdefault(minute, []).append(name)
    return minutes


def complete_minutes(minutes, since):
    """Minutes from `since` up to the last elapsed one (a minute with no run shows up empty)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    start = datetime.datetime.strptime(since, "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)
    out = {}
    while start < now:  # the current minute is left out: its run may not have happened yet
        key = start.strftime("%Y-%m-%d %H:%M")
        out[key] = minutes.get(key, [])
        start += datetime.timedelta(minutes=1)
    return out


def sleep_to_next_minute(seconds_after=20):
    now = time.time()
    time.sleep(60 - now % 60 + seconds_after)


def test_job_runs_exactly_once_a_minute_across_three_backends():
    while True:
        minutes = runs_per_minute()
        assert minutes, "the job never ran"
        window = complete_minutes(minutes, min(minutes))
        if len(window) >= 3:
            break
        sleep_to_next_minute()
    assert {m: len(h) for m, h in window.items()} == {m: 1 for m in window}, window


def test_another_backend_takes_over_when_the_holder_stops():
    minutes = runs_per_minute()
    holder = minutes[max(minutes)][0]
    stopped = fleet.host(holder)
    stopped.run_expect([0], "systemctl stop cron")
    try:
        stopped_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
        sleep_to_next_minute()
        sleep_to_next_minute()
        window = complete_minutes(runs_per_minute(), stopped_at.strftime("%Y-%m-%d %H:%M"))
        assert len(window) >= 1
        for minute, hosts in window.items():
            assert len(hosts) == 1, (minute, hosts)
            assert hosts[0] != holder and hosts[0] in BACKENDS, (minute, hosts)
    finally:
        stopped.run_expect([0], "systemctl start cron")


def test_a_held_lock_makes_the_others_skip_and_is_extended_while_the_job_runs():
    a, b = fleet.host("at-app1"), fleet.host("at-app2")
    run = "runuser -u koinonia -- koinonia-locked-run --name drill --ttl 2 -- "
    a.run_expect([0], f"systemd-run --quiet --collect --unit=drill-holder {run} sleep 6")
    time.sleep(3.5)  # past the 2 s lease: only the extension keeps the lock
    out = b.check_output(f"{run} touch /tmp/drill-ran")
    assert '"event": "skipped"' in out and '"reason": "locked"' in out
    assert not b.file("/tmp/drill-ran").exists
    time.sleep(4)  # the holder finished and released its lock with compare-and-delete
    password = (fleet.ROOT / ".cache/secrets/redis_password").read_text().split()[0]
    keys = fleet.host("at-cache1").check_output(
        f"REDISCLI_AUTH={password} redis-cli --scan --pattern 'koinonia:job:lock:*'")
    assert "drill" not in keys
