"""Shared helpers of the catalogue tests: one sandbox per module, the CLI in-process per home."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from projections.tables import EXPORTABLE
from tracker.cli.main import main
from tracker.sandbox.server import SandboxThread

# Fast retries and no client-side crawl: the sandbox is local and has no rate limit here.
FAST = {"TRACKER_RETRY_BASE_DELAY_S": "0.01", "TRACKER_TIMEOUT_S": "5", "TRACKER_TMDB_RATE": "2000",
        "TRACKER_YTS_RATE": "2000"}
DEFAULT_KNOBS = {"hostile_paths": False, "providers_epoch": 0}


class Home:
    """A tracker home wired to the sandbox; runs ``tracker --home HOME ...`` in-process."""

    def __init__(self, path: Path, sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]) -> None:
        self.path = path
        self.sandbox = sandbox
        self.capsys = capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of one command."""
        self.capsys.readouterr()
        try:
            rc = main(["--home", str(self.path), *args])
        except SystemExit as exc:  # argparse exits on bad usage
            rc = exc.code if isinstance(exc.code, int) else 1
        out, err = self.capsys.readouterr()
        return rc, out, err

    def summary(self, *args: str, rc: int = 0) -> dict[str, Any]:
        """Run with --json, insist on exit status ``rc``, and decode the summary."""
        code, out, err = self.run(*args, "--json")
        assert code == rc, f"tracker {' '.join(args)} exited {code}: {err}{out}"
        return json.loads(out)

    def export(self, table: str) -> list[dict[str, Any]]:
        """A table as `tracker export TABLE` prints it."""
        code, out, err = self.run("export", table)
        assert code == 0, err
        return json.loads(out)

    def query(self, sql: str, *params: Any) -> list[tuple]:
        """Rows read with plain sqlite3, as an auditor would."""
        conn = sqlite3.connect(self.path / "tracker.db")
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def events(self, type_: str) -> list[dict[str, Any]]:
        """The data of every event of one type, in log order."""
        return [json.loads(d) for (d,) in self.query(
            "SELECT data FROM events WHERE type = ? ORDER BY seq", type_)]

    def count(self) -> int:
        """How many events the log holds (0 when there is no database yet)."""
        if not (self.path / "tracker.db").exists():
            return 0
        return self.query("SELECT COUNT(*) FROM events")[0][0]

    def files(self) -> dict[str, bytes]:
        """Every file under the home except the database's own files, with its bytes."""
        return {p.relative_to(self.path).as_posix(): p.read_bytes() for p in sorted(self.path.rglob("*"))
                if p.is_file() and not p.name.startswith("tracker.")}

    def snapshot(self) -> dict[str, Any]:
        """Every export, the event count and the media files: what a dry run must leave alone."""
        return {"exports": {t: self.export(t) for t in EXPORTABLE}, "events": self.count(),
                "files": self.files()}

    def requests(self, route: str) -> int:
        """How many requests the sandbox has answered on a named route."""
        return self.sandbox.stats()["by_route"].get(route, 0)
