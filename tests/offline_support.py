"""Shared helpers of the offline tests: run the CLI in-process and snapshot a home."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from projections.export import export_rows
from projections.tables import EXPORTABLE
from tracker.cli.main import main
from tracker.db import Database


class Cli:
    """Calls ``tracker.cli.main`` for one home, capturing exit status, stdout and stderr."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        """Run ``tracker --home HOME ARGS``; (exit status, stdout, stderr)."""
        self.capsys.readouterr()
        try:
            rc = main(["--home", str(self.home), *args])
        except SystemExit as exc:  # argparse exits on --help and bad usage
            rc = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capsys.readouterr()
        return rc, out, err

    def ok(self, *args: str) -> str:
        """Run and insist on exit 0; stdout."""
        rc, out, err = self(*args)
        assert rc == 0, f"tracker {' '.join(args)} exited {rc}: {err}"
        return out

    def json(self, *args: str) -> dict[str, Any]:
        """Run with --json and decode the one summary object."""
        rc, out, err = self(*args, "--json")
        assert rc in (0, 1), err
        return json.loads(out)

    def export(self, table: str, *extra: str) -> list[dict[str, Any]]:
        """A table as exported (json format)."""
        return json.loads(self.ok("export", table, *extra))

    @property
    def db(self) -> Path:
        """The database file."""
        return self.home / "tracker.db"

    def events(self) -> list[tuple[int, str, str | None, dict[str, Any]]]:
        """(seq, type, command_id, data) of every row, read with plain sqlite3."""
        conn = sqlite3.connect(self.db)
        try:
            rows = conn.execute("SELECT seq, type, command_id, data FROM events ORDER BY seq").fetchall()
        finally:
            conn.close()
        return [(s, t, c, json.loads(d)) for s, t, c, d in rows]

    def count(self) -> int:
        """How many events the log holds (0 when there is no database)."""
        if not self.db.exists():
            return 0
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        finally:
            conn.close()

    def snapshot(self) -> dict[str, Any]:
        """Every export, the event count and the media folder's files with their bytes."""
        media = self.home / "media"
        files = {str(p.relative_to(self.home)): p.read_bytes()
                 for p in sorted(media.rglob("*")) if p.is_file()} if media.exists() else {}
        with Database(self.db) as db:  # the library's export (the CLI's is tested on its own)
            exports = {t: list(export_rows(db.conn, t)) for t in EXPORTABLE}
        return {"exports": exports, "events": self.count(), "media": files}


def raw_conn(path: Path) -> sqlite3.Connection:
    """A plain autocommit connection, for tampering behind tracker's back."""
    return sqlite3.connect(path, isolation_level=None)


def error_line(err: str) -> str:
    """stderr as exactly one line (asserting there is only one)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    return lines[0]


def dump(path: Path) -> list[str]:
    """Every schema object and row of a SQLite file, as SQL text (its logical content)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()
