"""The daemon's schedule: entries from tracker.toml, due times from the log, across restarts."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.engine_support import cli, query, spawn, wait_for
from tracker.config import load_settings
from tracker.db import Database
from tracker.engine.engine import run_engine
from tracker.engine.schedule import Scheduler, load_schedule, parse_every
from tracker.engine.submit import enqueue

OFFLINE = "normalize-uk-certifications"  # changes data, needs no network


def write_schedule(home: Path, *entries: str) -> None:
    """tracker.toml with these [[schedule]] tables (TOML text each)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "tracker.toml").write_text("".join(f"[[schedule]]\n{e}\n" for e in entries))


def runs(home: Path, name: str = OFFLINE) -> list[str]:
    """When each command ``name`` was requested, oldest first."""
    return [r[0] for r in query(home, "SELECT requested_at FROM commands WHERE name = ?"
                                      " ORDER BY requested_seq", name)]


class Clock:
    """Real time plus an offset the test moves; the log's times follow it too."""

    def __init__(self, monkeypatch) -> None:
        self.offset = timedelta()
        monkeypatch.setattr("events.store.utc_now",
                            lambda: self().strftime("%Y-%m-%dT%H:%M:%S.%fZ"))

    def __call__(self) -> datetime:
        """Now, moved by the offset."""
        return datetime.now(UTC) + self.offset


def run_daemon_once(home: Path, clock: Clock) -> None:
    """A fresh engine with the schedule (as a daemon start), until nothing is queued."""
    settings = load_settings(home=home, env={})
    scheduler = Scheduler(load_schedule(settings), clock)
    asyncio.run(run_engine(settings, until_idle=True, scheduler=scheduler))


@pytest.fixture
def home(tmp_path: Path, monkeypatch, capsys) -> Path:
    """A home with one DVD (the log began now) and an hourly offline entry."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    for key in ("TMDB_API_KEY", "TMDB_ACCESS_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    write_schedule(tmp_path, f'command = "{OFFLINE}"\nevery = "1h"')
    assert cli(capsys, "add", "Fight Club", "--uk-certification", "15")[0] == 0
    return tmp_path


def test_due_not_due_and_made_up_once_across_restarts(home: Path, monkeypatch) -> None:
    """Each start reads last runs from the log: not due is not run, missed runs are made up once."""
    clock = Clock(monkeypatch)
    run_daemon_once(home, clock)
    assert runs(home) == []  # a new home: the first run is one interval after the log began
    clock.offset = timedelta(hours=1, seconds=1)
    run_daemon_once(home, clock)
    assert len(runs(home)) == 1
    run_daemon_once(home, clock)  # a restart right after: not due again
    assert len(runs(home)) == 1
    clock.offset = timedelta(hours=6)  # down for five intervals
    run_daemon_once(home, clock)
    run_daemon_once(home, clock)
    assert len(runs(home)) == 2  # made up once, not five times
    statuses = query(home, "SELECT status FROM commands WHERE name = ?", OFFLINE)
    assert statuses == [("completed",), ("completed",)]


def test_due_entry_with_an_equal_queued_command_is_not_doubled(home: Path, monkeypatch) -> None:
    """A due entry whose command is already queued waits for it instead of queuing another."""
    clock = Clock(monkeypatch)
    clock.offset = timedelta(hours=2)
    settings = load_settings(home=home, env={})
    scheduler = Scheduler(load_schedule(settings), clock)
    with Database(settings.db_path) as db:
        _queued, fresh = enqueue(db, OFFLINE, {})
        assert fresh
        assert scheduler.enqueue_due(db) == []
        assert scheduler.seconds_until_due(db) is None  # nothing to wait for while it is queued
    assert len(runs(home)) == 1


def test_daemon_runs_short_intervals_and_makes_up_once_after_a_restart(home: Path) -> None:
    """A real daemon runs a 2s entry on time; down for 2.5 intervals, it makes up one run only."""
    write_schedule(home, f'command = "{OFFLINE}"\nevery = "2s"')
    daemon = spawn(home, {}, "daemon")
    try:
        wait_for(lambda: len(runs(home)) >= 2, timeout_s=10)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    first = runs(home)
    gaps = [_gap_s(a, b) for a, b in itertools.pairwise(first)]
    assert all(g >= 1.9 for g in gaps), gaps  # never early
    time.sleep(5.0)
    daemon = spawn(home, {}, "daemon")
    try:
        wait_for(lambda: len(runs(home)) >= len(first) + 1, timeout_s=10)
        time.sleep(1.0)
        assert len(runs(home)) == len(first) + 1  # one made-up run, then the next 2s later
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0


@pytest.mark.parametrize("entry, message", [
    ('command = "refresh-torent-data"\nevery = "1d"',
     "schedule entry 1 (refresh-torent-data): unknown command 'refresh-torent-data'"),
    ('command = "cleanup-unused-posters"\nargs = ["--bogus"]\nevery = "1d"',
     "schedule entry 1 (cleanup-unused-posters): unrecognized arguments: --bogus"),
    (f'command = "{OFFLINE}"\nevery = "5 minutes"',
     f"schedule entry 1 ({OFFLINE}): every must be a duration such as 90s, 30m, 6h, 1d or 1w"),
])
def test_daemon_refuses_a_bad_entry_with_one_line(home: Path, capsys, entry: str, message: str) -> None:
    """A bad schedule entry stops the daemon at start: exit 2, one line naming the entry."""
    write_schedule(home, entry)
    code, _out, err = cli(capsys, "daemon")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"tracker daemon: error: {home / 'tracker.toml'}: {message}")


def test_schedule_command_shows_last_run_and_next_due(home: Path, capsys) -> None:
    """tracker schedule lists each entry with its last run and next due time (--json for scripts)."""
    write_schedule(home, f'command = "{OFFLINE}"\nevery = "1h"',
                   'command = "cleanup-unused-posters"\nevery = "1w"')
    assert cli(capsys, OFFLINE)[0] == 0
    code, out, _ = cli(capsys, "schedule", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["command"] for r in rows] == [OFFLINE, "cleanup-unused-posters"]
    assert rows[0]["last_status"] == "completed" and rows[1]["last_run"] is None
    last = datetime.fromisoformat(rows[0]["last_run"].replace("Z", "+00:00"))
    assert rows[0]["next_due"] == (last + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, _ = cli(capsys, "schedule")
    assert out.splitlines()[0] == "schedule: tracker.toml"
    assert "never" in out and "(in 59m)" in out
    code, out, _ = cli(capsys, "status")
    assert "next scheduled (tracker schedule shows all):" in out


def test_default_routine_and_off(home: Path, capsys) -> None:
    """No [[schedule]]: the documented routine (network entries need a key); schedule = []: off."""
    (home / "tracker.toml").unlink()
    plan = load_schedule(load_settings(home=home, env={"TMDB_API_KEY": "k"}))
    assert [(e.label, e.every) for e in plan.entries] == [
        ("sync", "1d"), ("refresh-missing-details", "1d"),
        ("refresh-torrent-data --recent-only", "1d"), ("refresh-torrent-data", "1w"),
        ("cleanup-unused-posters", "1w"), ("update-watch-providers", "1w")]
    (home / "tracker.toml").write_text("schedule = []\n")
    assert load_schedule(load_settings(home=home, env={})).entries == ()
    assert cli(capsys, "schedule")[1].startswith("schedule: off")


def test_durations() -> None:
    """every takes a whole number and one unit of s, m, h, d or w."""
    assert [parse_every(t) for t in ("90s", "30m", "6h", "1d", "1w")] == [90, 1800, 21600, 86400, 604800]
    for bad in ("0s", "1y", "1.5h", "", 5):
        with pytest.raises(ValueError):
            parse_every(bad)


def _gap_s(a: str, b: str) -> float:
    """Seconds between two log times."""
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def test_a_scheduled_command_no_engine_runs_shows_as_interrupted(home: Path, capsys) -> None:
    """status and schedule call a 'running' entry that no engine runs interrupted, not 'running now'."""
    from events.types import CommandStarted
    from tracker.engine.schedule import options_from_args
    settings = load_settings(home=home, env={})
    with Database(settings.db_path) as db:
        command_id, _ = enqueue(db, OFFLINE, options_from_args(settings, OFFLINE, []))
        db.record([CommandStarted(command_id=command_id, total=1)], command_id)
    code, out, _ = cli(capsys, "status")
    assert code == 0 and f"{OFFLINE}: interrupted (command {command_id}; resumes on the next run)" in out
    assert "running now" not in out
    code, out, _ = cli(capsys, "schedule")
    assert code == 0 and "(interrupted)" in out and "running" not in out
    code, out, _ = cli(capsys, "schedule", "--json")
    assert json.loads(out.splitlines()[0])["last_status"] == "interrupted"
