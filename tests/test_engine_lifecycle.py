"""The engine as a process: kill -9 and resume, the daemon, following, cancel, signals, idling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine_support import FAST_RETRIES, query, spawn, wait_for, write_csv
from tracker.sandbox.server import SandboxThread
from tracker.sandbox.synthetic import synthetic_titles

N_DVDS = 60


@pytest.fixture
def sandbox():
    """A slow sandbox, so a run lasts long enough to be interrupted."""
    with SandboxThread(synthetic_count=N_DVDS, latency_s=0.05) as sb:
        yield sb


@pytest.fixture
def env(sandbox) -> dict[str, str]:
    """The environment a user would export, with a slow TMDB rate so runs take seconds."""
    return {**sandbox.env(), **FAST_RETRIES, "TRACKER_TMDB_RATE": "20", "TRACKER_YTS_RATE": "50"}


def run(home: Path, env: dict[str, str], *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess to completion."""
    proc = spawn(home, env, *args)
    out, err = proc.communicate(timeout=timeout_s)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def imported(home: Path, env: dict[str, str]) -> None:
    """A collection of synthetic DVDs with TMDB ids."""
    rows = [(t, y, i, None, None) for t, y, i, _ in synthetic_titles(N_DVDS)]
    result = run(home, env, "import", str(write_csv(home / "dvds.csv", rows)))
    assert result.returncode == 0, result.stderr


def engine_held_by(home: Path, daemon: subprocess.Popen) -> bool:
    """Whether ``daemon`` holds the engine lock yet (the holder writes its pid into the lock file)."""
    lock = home / "tracker.db.lock"
    return lock.exists() and lock.read_text() == str(daemon.pid)


def items_done(home: Path, name: str) -> int:
    rows = query(home, "SELECT COUNT(*) FROM events e JOIN commands c ON c.command_id = e.command_id"
                       " WHERE e.type = 'ItemProcessed' AND c.name = ?", name)
    return rows[0][0]


def assert_each_dvd_refreshed_once(home: Path) -> None:
    """Every DVD holds its details, and the log holds exactly one result per DVD."""
    missing = query(home, "SELECT COUNT(*) FROM dvds WHERE details_refreshed_at IS NULL")[0][0]
    assert missing == 0
    per_dvd = query(home, "SELECT subject, COUNT(*) FROM events WHERE type = 'DvdDetailsRefreshed'"
                          " GROUP BY subject")
    assert len(per_dvd) == N_DVDS and all(n == 1 for _, n in per_dvd)
    items = query(home, "SELECT subject, COUNT(*) FROM events WHERE type = 'ItemProcessed'"
                        " AND subject LIKE 'dvd:%' GROUP BY subject")
    assert all(n == 1 for _, n in items)


def test_kill_9_mid_refresh_resumes_without_duplicates(tmp_path: Path, env) -> None:
    """SIGKILL during a refresh; the next engine resumes it: every DVD correct, no duplicate."""
    imported(tmp_path, env)
    proc = spawn(tmp_path, env, "refresh-missing-details")
    wait_for(lambda: items_done(tmp_path, "refresh-missing-details") >= 10)
    proc.kill()
    proc.wait()
    done_at_kill = items_done(tmp_path, "refresh-missing-details")
    assert done_at_kill < N_DVDS
    status = query(tmp_path, "SELECT status FROM commands WHERE name = 'refresh-missing-details'")
    assert status == [("running",)]
    result = run(tmp_path, env, "daemon", "--until-idle")
    assert result.returncode == 0, result.stderr
    assert query(tmp_path, "SELECT status, processed FROM commands WHERE name = 'refresh-missing-details'") \
        == [("completed", N_DVDS)]
    assert_each_dvd_refreshed_once(tmp_path)
    verify = run(tmp_path, env, "verify")
    assert verify.returncode == 0, verify.stdout


def test_daemon_runs_queued_commands_and_sigterm_checkpoints(tmp_path: Path, env) -> None:
    """--enqueue returns an id; the daemon runs it; SIGTERM mid-run exits 0 and a restart finishes."""
    imported(tmp_path, env)
    queued = run(tmp_path, env, "refresh-missing-details", "--enqueue")
    command_id = queued.stdout.split()[0]
    again = run(tmp_path, env, "refresh-missing-details", "--enqueue")
    assert again.stdout.split()[0] == command_id  # an equal command is not queued twice
    daemon = spawn(tmp_path, env, "daemon")
    wait_for(lambda: items_done(tmp_path, "refresh-missing-details") >= 5)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    assert items_done(tmp_path, "refresh-missing-details") < N_DVDS
    result = run(tmp_path, env, "daemon", "--until-idle")
    assert result.returncode == 0
    assert_each_dvd_refreshed_once(tmp_path)
    status = json.loads(run(tmp_path, env, "status", "--json").stdout.splitlines()[-1])
    assert status["command_id"] == command_id and status["status"] == "completed"


def test_cli_follows_a_running_daemon(tmp_path: Path, env) -> None:
    """With a daemon holding the engine, the CLI queues its command and follows it to the summary."""
    imported(tmp_path, env)
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: engine_held_by(tmp_path, daemon))
        result = run(tmp_path, env, "refresh-missing-details", "--json", "--verbose")
        assert result.returncode == 0, result.stderr
        assert "following" in result.stderr
        summary = json.loads(result.stdout)  # the item lines went to stderr, named by title
        assert summary["processed"] == N_DVDS and summary["fields_held"]["director"] == N_DVDS
        first_title = synthetic_titles(N_DVDS)[0][0]
        assert any(line.startswith(f"dvd:1 ({first_title}): updated  ") for line in result.stderr.splitlines())
    finally:
        daemon.send_signal(signal.SIGINT)
        assert daemon.wait(timeout=30) == 0


def test_cancel_a_running_command(tmp_path: Path, env) -> None:
    """cancel stops a running command between items; its status becomes cancelled."""
    imported(tmp_path, env)
    command_id = run(tmp_path, env, "refresh-missing-details", "--enqueue").stdout.split()[0]
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: items_done(tmp_path, "refresh-missing-details") >= 3)
        result = run(tmp_path, env, "cancel", command_id)
        assert result.returncode == 0 and "cancelling" in result.stdout
        wait_for(lambda: query(tmp_path, "SELECT status FROM commands WHERE command_id = ?",
                               command_id) == [("cancelled",)])
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert items_done(tmp_path, "refresh-missing-details") < N_DVDS
    again = run(tmp_path, env, "cancel", command_id)
    assert again.returncode == 1 and "already cancelled" in again.stderr


def test_one_engine_per_database(tmp_path: Path, env) -> None:
    """A second daemon on the same database refuses to start, with one line."""
    run(tmp_path, env, "add", "Fight Club")
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: engine_held_by(tmp_path, daemon))
        second = run(tmp_path, env, "daemon")
        assert second.returncode == 1 and "already running" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0


def test_idle_daemon_does_not_busy_poll(tmp_path: Path, env) -> None:
    """An idle daemon uses almost no CPU, yet picks up a newly queued command promptly."""
    run(tmp_path, env, "add", "Fight Club")
    daemon = spawn(tmp_path, env, "daemon")
    try:
        time.sleep(1.0)
        before = _cpu_s(daemon.pid)
        time.sleep(3.0)
        assert _cpu_s(daemon.pid) - before < 0.3
        run(tmp_path, env, "add", "Heat", "--enqueue")
        wait_for(lambda: query(tmp_path, "SELECT COUNT(*) FROM dvds")[0][0] == 2, timeout_s=5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_follower_takes_over_when_the_daemon_dies(tmp_path: Path, env) -> None:
    """If the daemon is killed while the CLI follows its command, the CLI finishes it itself."""
    imported(tmp_path, env)
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: engine_held_by(tmp_path, daemon))
        follower = spawn(tmp_path, env, "refresh-missing-details", "--json")
        wait_for(lambda: items_done(tmp_path, "refresh-missing-details") >= 5)
    finally:
        daemon.kill()
        daemon.wait()
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "following" in err and "running it here" in err
    assert json.loads(out)["processed"] == N_DVDS
    assert_each_dvd_refreshed_once(tmp_path)
