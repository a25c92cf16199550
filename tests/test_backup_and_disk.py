"""Keeping data safe on a NAS: backup while a daemon writes, a read-only home, a full disk."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.engine_support import (
    FAST_RETRIES,
    assert_each_dvd_refreshed_once,
    imported,
    items_done,
    query,
    read_only,
    run,
    spawn,
    wait_for,
)
from tracker.sandbox.server import SandboxThread

N = 60


@pytest.fixture
def env():
    """A sandbox answering in 0.1 s, so a daemon's refresh writes for a few seconds."""
    with SandboxThread(synthetic_count=N, latency_s=0.1) as sb:
        yield {**sb.env(), **FAST_RETRIES, "TRACKER_CONCURRENCY": "4"}


def test_backup_while_the_daemon_writes_is_consistent_and_verifies(tmp_path: Path, env) -> None:
    """backup FILE mid-refresh: exit 0, one line; the copy as a home passes verify; no temp left."""
    home, saved = tmp_path / "home", tmp_path / "saved"
    home.mkdir()
    saved.mkdir()
    imported(home, env, N)
    run(home, env, "refresh-missing-details", "--enqueue")
    daemon = spawn(home, env, "daemon")
    try:
        wait_for(lambda: items_done(home, "refresh-missing-details") >= 5)
        result = run(home, env, "backup", str(saved / "copy.db"), "--json")
        assert items_done(home, "refresh-missing-details") < N  # it really ran beside the writes
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["checked"] is True and report["path"] == str(saved / "copy.db")
    assert sorted(p.name for p in saved.iterdir()) == ["copy.db"]  # no temp file, no -wal
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(saved / "copy.db", restored / "tracker.db")
    assert query(restored, "SELECT MAX(seq) FROM events")[0][0] == report["last_seq"] == report["events"]
    verify = run(restored, env, "verify")
    assert verify.returncode == 0, verify.stdout
    text = run(home, env, "backup", str(saved))  # a folder: the copy is FOLDER/tracker.db
    assert text.returncode == 0 and "integrity ok, hash chain intact" in text.stdout
    assert (saved / "tracker.db").is_file()


def test_backup_refuses_bad_targets_in_one_line(tmp_path: Path) -> None:
    """The live database, a missing folder, or no database at all: one line, exit 2."""
    run(tmp_path, {}, "add", "Heat")
    for target, words in ((tmp_path / "tracker.db", "is the live database"),
                          (tmp_path / "nowhere" / "x.db", "does not exist")):
        result = run(tmp_path, {}, "backup", str(target))
        assert result.returncode == 2 and words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(empty, {}, "backup", str(tmp_path / "b.db"))
    assert result.returncode == 2 and "no tracker database" in result.stderr


def test_a_read_only_home_can_be_read(tmp_path: Path) -> None:
    """export, history, verify and status read a read-only home; a change is refused in one line."""
    for title in ("Heat", "Alien"):
        assert run(tmp_path, {}, "add", title).returncode == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    with read_only(tmp_path):
        exported = run(tmp_path, {}, "export", "dvds")
        assert exported.returncode == 0, exported.stderr
        assert sorted(d["title"] for d in json.loads(exported.stdout)) == ["Alien", "Heat"]
        travelled = run(tmp_path, {}, "export", "dvds", "--as-of", "2100-01-01T00:00:00Z")
        assert travelled.returncode == 0 and travelled.stdout == exported.stdout, travelled.stderr
        history = run(tmp_path, {}, "history", "--json")
        assert history.returncode == 0 and len(history.stdout.splitlines()) >= 2
        verify = run(tmp_path, {}, "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        status = run(tmp_path, {}, "status", "--json")
        assert status.returncode == 0 and {json.loads(x)["name"] for x in status.stdout.splitlines()} == {"add"}
        cancel = run(tmp_path, {}, "cancel", "abc")
        assert cancel.returncode == 2 and "read-only" in cancel.stderr
        assert len(cancel.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created beside it


def test_a_full_disk_mid_run_loses_nothing_and_the_next_run_finishes(tmp_path: Path, env) -> None:
    """Writes capped mid-refresh: exit 1 with one line, log verifiable; a later run completes."""
    imported(tmp_path, env, N)
    size = sum(p.stat().st_size for p in tmp_path.glob("tracker.db*"))
    proc = spawn(tmp_path, env, "refresh-missing-details", max_file_bytes=size + 64 * 1024)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "the disk is full or a file-size limit was reached" in lines[0]
    assert "resumes on the next run" in lines[0] and "Traceback" not in err
    done = items_done(tmp_path, "refresh-missing-details")
    assert 0 < done < N
    assert run(tmp_path, env, "verify").returncode == 0
    status = json.loads(run(tmp_path, env, "status", "--json").stdout.splitlines()[0])
    assert status["status"] == "interrupted" and status["processed"] == done
    again = run(tmp_path, env, "refresh-missing-details")
    assert again.returncode == 0, again.stderr
    assert_each_dvd_refreshed_once(tmp_path, N)
    assert run(tmp_path, env, "verify").returncode == 0


def test_an_unreadable_write_ahead_log_is_named(tmp_path: Path) -> None:
    """A read-only copy whose -wal holds changes but has no -shm: one line saying what to do."""
    home = tmp_path / "home"
    assert run(home, {}, "add", "Heat").returncode == 0
    holder = sqlite3.connect(home / "tracker.db")
    holder.execute("SELECT 1 FROM events").fetchall()  # keeps the -wal from being folded back
    try:
        assert run(home, {}, "add", "Alien").returncode == 0
        copy = tmp_path / "copy"
        shutil.copytree(home, copy)
    finally:
        holder.close()
    (copy / "tracker.db-shm").unlink()
    time.sleep(0.01)
    with read_only(copy):
        result = run(copy, {}, "export", "dvds")
    assert result.returncode == 1
    assert "holds changes that need a writable folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
