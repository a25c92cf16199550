"""Stopping an engine by signal, following and cancelling, and what status says afterwards."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.engine_support import (
    FAST_RETRIES,
    NOISE,
    assert_each_dvd_refreshed_once,
    imported,
    items_done,
    run,
    spawn,
    stop_at_once,
    wait_for,
)
from tracker.engine_lock import EngineLock
from tracker.sandbox.server import SandboxThread

N = 60


@pytest.fixture
def sandbox():
    """A sandbox slow enough (0.3 s an answer) that items are always in flight."""
    with SandboxThread(synthetic_count=N, latency_s=0.3) as sb:
        yield sb


@pytest.fixture
def env(sandbox) -> dict[str, str]:
    """The sandbox's environment with fast retries."""
    return {**sandbox.env(), **FAST_RETRIES}


def _status(home: Path, env: dict[str, str], name: str) -> dict:
    """The status --json row of the command named ``name``."""
    result = run(home, env, "status", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return next(r for r in rows if r["name"] == name)


def _started(home: Path, env: dict[str, str], *args: str):
    """A refresh of the whole collection in a subprocess, once a few of its items are recorded."""
    imported(home, env, N)
    proc = spawn(home, env, "refresh-missing-details", *args)
    wait_for(lambda: items_done(home, "refresh-missing-details") >= 3)
    return proc


def _resumed_and_whole(home: Path, env: dict[str, str]) -> None:
    """The next run finishes the command: every DVD refreshed exactly once, verify passes."""
    result = run(home, env, "daemon", "--until-idle")
    assert result.returncode == 0, result.stderr
    assert _status(home, env, "refresh-missing-details")["status"] == "completed"
    assert_each_dvd_refreshed_once(home, N)
    assert run(home, env, "verify").returncode == 0


def test_first_ctrl_c_stops_within_a_second_and_the_run_resumes(tmp_path: Path, env) -> None:
    """One SIGINT: 'stopping: N items in flight', exit 130 within ~1 s, status interrupted, resumable."""
    proc = _started(tmp_path, env)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    took_s = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took_s < 1.5
    lines = err.strip().splitlines()
    assert lines[0].startswith("stopping: ") and lines[0].split()[1].isdigit()
    assert "interrupted: command" in lines[-1] and "resumes on the next run" in lines[-1]
    assert not any(noise in err for noise in NOISE)
    row = _status(tmp_path, env, "refresh-missing-details")
    assert row["status"] == "interrupted" and 0 < row["processed"] < N
    text = run(tmp_path, env, "status").stdout
    assert "interrupted" in text and f"{row['processed']}/{N}" in text
    _resumed_and_whole(tmp_path, env)


def test_second_ctrl_c_exits_at_once_with_the_lock_released(tmp_path: Path, env) -> None:
    """Two SIGINTs: exit 130 at once, no traceback, lock free; nothing recorded twice on resume."""
    stop_at_once(_started(tmp_path, env))
    assert _status(tmp_path, env, "refresh-missing-details")["status"] == "interrupted"
    _resumed_and_whole(tmp_path, env)


def test_kill_9_shows_interrupted_and_sigterm_to_a_daemon_is_prompt(tmp_path: Path, env) -> None:
    """After kill -9 status says interrupted; a daemon resumes it and stops within ~1 s on SIGTERM."""
    env = {**env, "TRACKER_CONCURRENCY": "2"}  # the resumed run lasts while we look
    proc = _started(tmp_path, env)
    proc.kill()
    proc.wait()
    assert _status(tmp_path, env, "refresh-missing-details")["status"] == "interrupted"
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: _status(tmp_path, env, "refresh-missing-details")["status"] == "running")
    finally:
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0 and time.monotonic() - sent < 1.5
    assert "stopping: " in err and "daemon.stopped" in err
    _resumed_and_whole(tmp_path, env)


def test_ctrl_c_while_following_leaves_the_daemon_running(tmp_path: Path, env) -> None:
    """Following a daemon, Ctrl-C stops following (exit 130) and the daemon finishes the command."""
    imported(tmp_path, env, N)
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: getattr(EngineLock(tmp_path / "tracker.db").holder(), "role", None) == "daemon")
        follower = spawn(tmp_path, env, "refresh-missing-details")
        wait_for(lambda: items_done(tmp_path, "refresh-missing-details") >= 3)
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=10)
        assert follower.returncode == 130
        assert f"a tracker daemon (pid {daemon.pid}) is running" in err
        assert "stopped following; the daemon goes on with command" in err
        wait_for(lambda: _status(tmp_path, env, "refresh-missing-details")["status"] == "completed",
                 timeout_s=60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, daemon_err = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, daemon_err
    assert_each_dvd_refreshed_once(tmp_path, N)


def test_a_second_cli_names_the_process_that_holds_the_engine(tmp_path: Path, env) -> None:
    """A CLI run holding the engine is named as 'another tracker process (pid N)' with its command."""
    env = {**env, "TRACKER_CONCURRENCY": "2"}  # the run lasts while we look
    proc = _started(tmp_path, env)
    try:
        command_id = _status(tmp_path, env, "refresh-missing-details")["command_id"]
        second = run(tmp_path, env, "daemon")
        assert second.returncode == 1
        assert (f"another tracker process (pid {proc.pid}) is running command {command_id}"
                f" (refresh-missing-details)") in second.stderr
        assert _status(tmp_path, env, "refresh-missing-details")["status"] == "running"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_cancel_stops_starting_items_at_once(tmp_path: Path, env) -> None:
    """With one item at a time, at most the one in flight is recorded after cancel returns."""
    env = {**env, "TRACKER_CONCURRENCY": "1"}
    imported(tmp_path, env, N)
    command_id = run(tmp_path, env, "refresh-missing-details", "--enqueue").stdout.split()[0]
    daemon = spawn(tmp_path, env, "daemon")
    try:
        wait_for(lambda: items_done(tmp_path, "refresh-missing-details") >= 2)
        result = run(tmp_path, env, "cancel", command_id)
        assert result.returncode == 0 and "cancelling" in result.stdout
        at_cancel = items_done(tmp_path, "refresh-missing-details")
        wait_for(lambda: _status(tmp_path, env, "refresh-missing-details")["status"] == "cancelled",
                 timeout_s=5)
        time.sleep(0.7)  # two more answers' time: nothing new may start
        assert items_done(tmp_path, "refresh-missing-details") <= at_cancel + 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    again = run(tmp_path, env, "cancel", command_id)
    assert again.returncode == 1 and "already cancelled" in again.stderr


def test_sigterm_stops_a_daemon_whose_stderr_is_gone(tmp_path: Path, env) -> None:
    """A daemon whose stderr reader went away still stops on SIGTERM (and exits at the second)."""
    imported(tmp_path, env, N)
    daemon = spawn(tmp_path, env, "daemon")
    wait_for(lambda: getattr(EngineLock(tmp_path / "tracker.db").holder(), "role", None) == "daemon")
    daemon.stderr.close()  # like a terminal closed under a nohup-less daemon
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode in (0, 128 + signal.SIGTERM)
