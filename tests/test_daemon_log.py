"""What the daemon writes to stderr: its life, each command's start and end, as console or JSON."""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path

from tests.engine_support import FAST_RETRIES, imported, query, run, spawn, wait_for
from tracker import __version__
from tracker.sandbox.server import SandboxThread


def _daemon_lines(tmp_path: Path, env: dict[str, str], *flags: str) -> tuple[str, list[str]]:
    """Run one refresh (one DVD unknown to TMDB) through a daemon; its command id and stderr lines."""
    imported(tmp_path, env, 12)
    assert run(tmp_path, env, "add", "Nowhere Film", "--tmdb-id", "987654321").returncode == 0
    command_id = run(tmp_path, env, "refresh-missing-details", "--enqueue").stdout.split()[0]
    daemon = spawn(tmp_path, env, "daemon", *flags)
    wait_for(lambda: query(tmp_path, "SELECT status FROM commands WHERE command_id = ?",
                           command_id) == [("completed",)])
    daemon.send_signal(signal.SIGTERM)
    _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    return command_id, err.strip().splitlines()


def test_daemon_json_log_tells_its_life_with_command_ids_and_no_secret(tmp_path: Path) -> None:
    """--log-format json: one object a line; start, command start/end with counts and failures, stop."""
    with SandboxThread(synthetic_count=12, fault_5xx_rate=0.3, seed=3) as sb:
        env = {**sb.env(), **FAST_RETRIES}
        command_id, lines = _daemon_lines(tmp_path, env, "--log-format", "json")
    records = [json.loads(line) for line in lines]
    for r in records:
        assert {"event", "level", "timestamp"} <= r.keys()
        datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
    events = [r["event"] for r in records]
    assert events[0] == "daemon.started" and events[-1] == "daemon.stopped"
    start = records[0]
    assert start["version"] == __version__ and start["home"] == str(tmp_path)
    mine = [r for r in records if r.get("command_id") == command_id]
    assert [r["event"] for r in mine if r["event"].startswith("command.")] == \
        ["command.started", "command.finished"]
    end = next(r for r in mine if r["event"] == "command.finished")
    assert (end["processed"], end["updated"], end["failed"]) == (13, 12, 1)
    assert end["level"] == "warning" and "not found" in end["failures"][0]
    retries = [r for r in mine if r["event"] == "http.retry"]
    assert retries and all(r["level"] == "info" for r in retries)  # retries carry the command id
    assert sb.api_key not in "\n".join(lines)


def test_daemon_console_log_is_plain_text_and_the_level_filters(tmp_path: Path) -> None:
    """Console lines carry no colour codes off a terminal; --log-level warning hides info lines."""
    with SandboxThread(synthetic_count=12) as sb:
        env = {**sb.env(), **FAST_RETRIES}
        _, lines = _daemon_lines(tmp_path, env)
        assert not any("\x1b[" in line for line in lines)
        assert "daemon.started" in lines[0] and "version=" in lines[0]
        assert any("command.finished" in line and "failed=1" in line for line in lines)
        quiet_home = tmp_path / "quiet"
        quiet_home.mkdir()
        _, quiet = _daemon_lines(quiet_home, env, "--log-level", "warning")
    assert not any("daemon.started" in line for line in quiet)
    assert any("command.finished" in line for line in quiet)  # a run with a failure warns


def test_log_settings_come_from_tracker_toml_and_bad_values_are_refused(tmp_path: Path) -> None:
    """log_format in tracker.toml is honoured; a wrong value is one line and exit 2."""
    (tmp_path / "tracker.toml").write_text('log_format = "xml"\n')
    bad = run(tmp_path, {}, "status")
    assert bad.returncode == 2 and "log_format" in bad.stderr and len(bad.stderr.splitlines()) == 1
    (tmp_path / "tracker.toml").write_text('log_format = "json"\nlog_level = "info"\n')
    daemon = run(tmp_path, {}, "daemon", "--until-idle")
    assert daemon.returncode == 0
    assert json.loads(daemon.stderr.splitlines()[0])["event"] == "daemon.started"


class _GoneStderr:
    """A stderr whose reader went away: every write fails as the OS would say it."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise self.error

    def flush(self) -> None:
        raise self.error


def test_a_log_line_to_a_stderr_that_is_gone_is_dropped_not_raised(monkeypatch) -> None:
    """A closed stderr or a broken pipe loses the log line; the code that logged goes on."""
    import io

    from tracker.log import configure_logging, get_logger
    configure_logging(level="info")
    log = get_logger("tracker.test")
    for error in (BrokenPipeError(32, "Broken pipe"), OSError(5, "Input/output error")):
        gone = _GoneStderr(error)
        monkeypatch.setattr("sys.stderr", gone)
        log.warning("nobody_reads_this", item="dvd:1")
        assert gone.writes >= 1  # it was tried
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr("sys.stderr", closed)
    log.error("nor_this")
    heard = io.StringIO()
    monkeypatch.setattr("sys.stderr", heard)
    log.warning("back_again")
    assert "back_again" in heard.getvalue()


def test_a_foreground_run_with_a_failure_says_it_once(tmp_path: Path) -> None:
    """A run in the terminal prints its failures in the summary, with no warning log line repeating them."""
    source = tmp_path / "dvds.csv"
    source.write_text("title,year\nHeat,1995\nBad,19x5\n", encoding="utf-8")
    result = run(tmp_path, {}, "import", str(source))
    code, out, err = result.returncode, result.stdout, result.stderr
    assert code == 1
    assert "failed line:3: year '19x5' is not a whole number" in out
    assert "command.finished" not in err and "19x5" not in err
