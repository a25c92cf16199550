"""Shared helpers for engine tests: the sandbox on loopback, the CLI in-process and in subprocesses."""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tracker.cli.main import main
from tracker.sandbox.synthetic import synthetic_titles

FAST_RETRIES = {"TRACKER_RETRY_BASE_DELAY_S": "0.01", "TRACKER_TIMEOUT_S": "2"}
N_DVDS = 60
NOISE = ("Traceback", "Task was destroyed", "Event loop is closed", "internal error")


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def spawn(home: Path, env: dict[str, str], *args: str,
          max_file_bytes: int | None = None) -> subprocess.Popen:
    """Start the CLI in a subprocess; ``max_file_bytes`` caps every file it writes (a full disk)."""
    full = {**os.environ, **env, "TRACKER_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "tracker.cli", *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=None if max_file_bytes is None else file_size_limit(max_file_bytes))


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A preexec_fn making writes past ``max_bytes`` fail with EFBIG, as on a full disk."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` truly read-only for a while: a read-only bind mount as root, else chmod."""
    if os.geteuid() == 0:  # root ignores permission bits, but not a read-only mount
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
        return
    paths = [folder, *folder.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    for p in reversed(paths):
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def export(capsys: Any, table: str) -> list[dict[str, Any]]:
    """A table's rows as the CLI exports them."""
    code, out, err = cli(capsys, "export", table)
    assert code == 0, err
    return json.loads(out)


def write_csv(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    """A DVD CSV with the SPEC header."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["title", "year", "tmdb_id", "imdb_id", "uk_certification"])
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    return path


def query(home: Path, sql: str, *params: Any) -> list[tuple]:
    """Rows from the database, read with plain sqlite3 as an auditor would."""
    conn = sqlite3.connect(home / "tracker.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def run(home: Path, env: dict[str, str], *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess to completion."""
    proc = spawn(home, env, *args)
    out, err = proc.communicate(timeout=timeout_s)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def imported(home: Path, env: dict[str, str], count: int = N_DVDS) -> None:
    """A collection of synthetic DVDs with TMDB ids."""
    rows = [(t, y, i, None, None) for t, y, i, _ in synthetic_titles(count)]
    result = run(home, env, "import", str(write_csv(home / "dvds.csv", rows)))
    assert result.returncode == 0, result.stderr


def wait_for(predicate: Any, timeout_s: float = 30.0) -> None:
    """Poll until predicate() is true (AssertionError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def engine_held_by(home: Path, daemon: subprocess.Popen) -> bool:
    """Whether ``daemon`` holds the engine lock yet (the holder writes its pid into the lock file)."""
    from tracker.engine_lock import EngineLock
    holder = EngineLock(home / "tracker.db").holder()
    return holder is not None and holder.pid == daemon.pid


def items_done(home: Path, name: str) -> int:
    """Items of commands named ``name`` recorded so far."""
    rows = query(home, "SELECT COUNT(*) FROM events e JOIN commands c ON c.command_id = e.command_id"
                       " WHERE e.type = 'ItemProcessed' AND c.name = ?", name)
    return rows[0][0]


def assert_each_dvd_refreshed_once(home: Path, count: int = N_DVDS) -> None:
    """Every DVD holds its details, and the log holds exactly one result per DVD."""
    missing = query(home, "SELECT COUNT(*) FROM dvds WHERE details_refreshed_at IS NULL")[0][0]
    assert missing == 0
    per_dvd = query(home, "SELECT subject, COUNT(*) FROM events WHERE type = 'DvdDetailsRefreshed'"
                          " GROUP BY subject")
    assert len(per_dvd) == count and all(n == 1 for _, n in per_dvd)
    items = query(home, "SELECT subject, COUNT(*) FROM events WHERE type = 'ItemProcessed'"
                        " AND subject LIKE 'dvd:%' GROUP BY subject")
    assert all(n == 1 for _, n in items)


def stop_at_once(proc: subprocess.Popen) -> str:
    """Ctrl-C twice, 50 ms apart: the process must leave within a second with exit 130, saying
    so and printing no traceback; its stderr."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - sent < 1.0
    assert "stopped at once" in err and not any(noise in err for noise in NOISE)
    return err
