"""Shared helpers for engine tests: the sandbox on loopback, the CLI in-process and in subprocesses."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tracker.cli.main import main

FAST_RETRIES = {"TRACKER_RETRY_BASE_DELAY_S": "0.01", "TRACKER_TIMEOUT_S": "2"}


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def spawn(home: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start the CLI in a subprocess with the given environment."""
    full = {**os.environ, **env, "TRACKER_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "tracker.cli", *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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


def wait_for(predicate: Any, timeout_s: float = 30.0) -> None:
    """Poll until predicate() is true (AssertionError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")
