"""The engine as a process: kill -9 and resume, the daemon, following, cancel, signals, idling."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.engine_support import (
    FAST_RETRIES,
    N_DVDS,
    assert_each_dvd_refreshed_once,
    engine_held_by,
    imported,
    items_done,
    query,
    run,
    spawn,
    wait_for,
)
from tracker.config import load_settings
from tracker.db import Database
from tracker.engine import engine as engine_module
from tracker.engine.submit import enqueue
from tracker.engine_lock import EngineLock
from tracker.sandbox.server import SandboxThread
from tracker.sandbox.synthetic import synthetic_titles


@pytest.fixture
def sandbox():
    """A slow sandbox, so a run lasts long enough to be interrupted."""
    with SandboxThread(synthetic_count=N_DVDS, latency_s=0.05) as sb:
        yield sb


@pytest.fixture
def env(sandbox) -> dict[str, str]:
    """The environment a user would export, with a slow TMDB rate so runs take seconds."""
    return {**sandbox.env(), **FAST_RETRIES, "TRACKER_TMDB_RATE": "20", "TRACKER_YTS_RATE": "50"}


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
        wait_for(lambda: EngineLock(tmp_path / "tracker.db").holder() is not None)
        time.sleep(1.0)  # past start-up: only idling is measured
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


def test_a_poke_wakes_an_idle_engine_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the fallback poll slowed to a minute, an enqueued command still starts at once."""
    monkeypatch.setattr(engine_module, "IDLE_CHECK_S", 60.0)
    settings = load_settings(home=tmp_path, env={})
    Database(settings.db_path).close()

    def enqueue_one() -> str:
        with Database(settings.db_path) as db:
            return enqueue(db, "add", {"title": "Heat"})[0]

    async def scenario() -> float:
        async with engine_module.Engine(settings, role="daemon") as engine:
            task = asyncio.create_task(engine.run())
            await asyncio.sleep(0.3)  # the engine is idle, waiting
            sent = time.monotonic()
            command_id = await asyncio.to_thread(enqueue_one)
            while query(tmp_path, "SELECT status FROM commands WHERE command_id = ?",
                        command_id) != [("completed",)]:
                await asyncio.sleep(0.01)
            took_s = time.monotonic() - sent
            engine.stop()
            await task
        return took_s
    assert asyncio.run(scenario()) < 2.0
