"""Single-runner cron jobs: the recurring-messages job is scheduled every minute on all three
backends and must run exactly once a minute (it posts a message; PostgreSQL records which
backend ran it). The fleet has been running it since the converge."""
import datetime
import json
import time

import fleet
from fleet import BACKENDS, redis_cli, sql, wait_for

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
    # Right after a converge the first scheduled minute may not have come yet.
    assert wait_for(runs_per_minute, 75, 5), "the job never ran"
    while True:
        minutes = runs_per_minute()
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


def test_the_whole_compound_command_ran_on_the_backend_that_posted():
    """The job is `date ... > recurring-messages.last && curl ...`: both halves run under the lock,
    so the backend whose .last is the latest is the one, and the only one, that posted that minute."""
    stamps = {name: fleet.host(name).run("cat /var/log/koinonia-cron/recurring-messages.last").stdout.strip()
              for name in BACKENDS}
    writer = max(stamps, key=stamps.get)
    minute = stamps[writer][:16].replace("T", " ")
    assert wait_for(lambda: runs_per_minute().get(minute), 20), (minute, stamps)
    assert runs_per_minute()[minute] == [writer], (minute, stamps)


RUN = "runuser -u koinonia -- koinonia-locked-run --ttl {ttl} --name {name} -- "


def events(output):
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_held_lock_makes_the_others_skip_and_only_its_holder_releases_it():
    a, b = fleet.host("at-app1"), fleet.host("at-app2")
    key = "koinonia:job:lock:drill-release"
    # TTL 60 s, far longer than the check: only a release can make the key go away in time.
    a.run_expect([0], "systemd-run --quiet --collect --unit=drill-holder " + RUN.format(ttl=60, name="drill-release")
                 + "sleep 4")
    time.sleep(1.5)
    out = b.check_output(RUN.format(ttl=60, name="drill-release") + "touch /tmp/drill-ran")
    assert [e["reason"] for e in events(out)] == ["locked"]
    assert not b.file("/tmp/drill-ran").exists
    assert wait_for(lambda: a.run("systemctl is-active --quiet drill-holder").rc != 0, 20)
    assert redis_cli(f"EXISTS {key}") == "0"  # released by its holder, 55 s before it would expire
    # Compare-and-delete: a holder whose lock was taken meanwhile must leave the new owner's lock.
    # (Another job name: this minute is claimed for drill-release, so a second run would skip.)
    key = "koinonia:job:lock:drill-cad"
    a.run_expect([0], "systemd-run --quiet --collect --unit=drill-holder " + RUN.format(ttl=60, name="drill-cad")
                 + "sleep 4")
    assert wait_for(lambda: redis_cli(f"EXISTS {key}") == "1", 5)
    assert redis_cli(f"SET {key} someone-else XX KEEPTTL") == "OK"
    try:
        assert wait_for(lambda: a.run("systemctl is-active --quiet drill-holder").rc != 0, 20)
        assert redis_cli(f"GET {key}") == "someone-else"
    finally:
        redis_cli(f"DEL {key}")


def test_a_killed_holder_is_taken_over_only_after_its_ttl_and_its_job_dies_with_it():
    a, b = fleet.host("at-app1"), fleet.host("at-app2")
    ttl = 18
    if time.time() % 60 > 20:  # the drill (about 30 s) must end in the minute it starts in
        sleep_to_next_minute(seconds_after=3)
    # Started as cron starts it (no unit whose stop would clean up after it), then only the
    # wrapper is killed.
    a.run_expect([0], "setsid -f " + RUN.format(ttl=ttl, name="drill-kill") + "sleep 300 >/dev/null 2>&1 </dev/null")
    time.sleep(2)
    assert a.run("pgrep -f '^sleep 300$'").rc == 0
    a.run_expect([0], "pkill -KILL -f '^/usr/bin/python3 /usr/local/bin/koinonia-locked-run --ttl 18 --name drill-kill'")
    killed = time.monotonic()
    # The job went with it (PR_SET_PDEATHSIG): nothing runs outside the lock.
    assert wait_for(lambda: a.run("pgrep -f '^sleep 300$'").rc != 0, 5)
    # Another backend is refused while the lease runs (it was last extended at most ttl/3 before
    # the kill), then gets the lock (and finds this minute already claimed).
    reasons = []
    while time.monotonic() - killed < ttl + 5:
        reason = events(b.check_output(RUN.format(ttl=ttl, name="drill-kill") + "true"))[0].get("reason")
        reasons.append((round(time.monotonic() - killed, 1), reason))
        if reason != "locked":
            break
        time.sleep(0.5)
    taken_at, reason = reasons[-1]
    assert reason == "already ran this minute", reasons
    assert ttl * 2 / 3 - 1 <= taken_at <= ttl + 2, reasons
    # The next schedule slot runs on the other backend.
    sleep_to_next_minute(seconds_after=1)
    ran = events(b.check_output(RUN.format(ttl=ttl, name="drill-kill") + "true"))
    assert [e["event"] for e in ran] == ["started", "finished"], ran
