"""Batched commands (import, normalize-uk-certifications): the guarantees of the per-item path.

Items are processed a chunk at a time and handed to the writer together; each item's events
and its ItemProcessed must still be recorded together, once, and a stop must still be prompt.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from events.store import EventStore
from events.types import CommandRequested, DvdAdded
from tests.engine_support import NOISE, items_done, query, run, spawn, stop_at_once, wait_for
from tests.offline_support import Cli
from tracker.commands import validate
from tracker.db import Database
from tracker.engine import runner
from tracker.engine.writer import Writer

ROWS = 20_000  # several chunks, and a few seconds of work: time to interrupt it
HEADER = "title,year,tmdb_id,imdb_id,uk_certification\n"


def _csv(path: Path, rows: int) -> Path:
    """``rows`` distinct films, the i-th on line i + 2 with TMDB id i + 1."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            f.write(f"Film {i},{1950 + i % 70},{i + 1},tt{i + 1:07d},12A\n")
    return path


def _assert_each_row_once(home: Path, rows: int) -> None:
    """Every row is one DVD, added once, and each line has exactly one ItemProcessed."""
    assert query(home, "SELECT COUNT(*), COUNT(DISTINCT tmdb_id), MIN(tmdb_id), MAX(tmdb_id) FROM dvds") == [
        (rows, rows, 1, rows)]
    assert query(home, "SELECT COUNT(*) FROM events WHERE type = 'DvdAdded'") == [(rows,)]
    twice = query(home, "SELECT subject FROM events WHERE type = 'ItemProcessed'"
                        " GROUP BY command_id, subject HAVING COUNT(*) > 1 LIMIT 3")
    assert twice == []
    assert items_done(home, "import") == rows


def _resumed(home: Path, source: Path) -> dict:
    """Run the same import again: it resumes the interrupted one; its --json summary."""
    result = run(home, {}, "import", str(source), "--json", timeout_s=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _items_so_far(home: Path) -> int:
    """Items the import has recorded (0 while its database is still being created)."""
    try:
        return items_done(home, "import")
    except sqlite3.OperationalError:
        return 0


def _started(home: Path) -> tuple:
    """An import of ROWS rows in a subprocess, once a few chunks of it are recorded."""
    source = _csv(home / "dvds.csv", ROWS)
    proc = spawn(home, {}, "import", str(source))
    wait_for(lambda: _items_so_far(home) >= 2000, 60)
    return proc, source


def test_kill_9_mid_import_resumes_with_no_row_twice(tmp_path: Path) -> None:
    """SIGKILL mid-import; the same import again finishes it: every row once, verify passes."""
    proc, source = _started(tmp_path)
    proc.kill()
    proc.wait()
    done_at_kill = items_done(tmp_path, "import")
    assert 0 < done_at_kill < ROWS
    # Whole items only: each recorded ItemProcessed has its DvdAdded, and no DVD lacks one.
    assert query(tmp_path, "SELECT COUNT(*) FROM dvds") == [(done_at_kill,)]
    summary = _resumed(tmp_path, source)
    assert (summary["processed"], summary["updated"], summary["failed"]) == (ROWS, ROWS, 0)
    _assert_each_row_once(tmp_path, ROWS)
    assert run(tmp_path, {}, "verify").returncode == 0


def test_ctrl_c_mid_import_stops_promptly_and_resumes(tmp_path: Path) -> None:
    """One SIGINT stops an import within a second (exit 130, interrupted); it resumes whole."""
    proc, source = _started(tmp_path)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 1.5
    assert err.splitlines()[0] == "stopping: recording the items done so far (again to stop at once)"
    assert not any(noise in err for noise in NOISE)
    [row] = [json.loads(line) for line in run(tmp_path, {}, "status", "--json").stdout.splitlines()]
    assert row["status"] == "interrupted" and 0 < row["processed"] < ROWS
    assert _resumed(tmp_path, source)["processed"] == ROWS
    _assert_each_row_once(tmp_path, ROWS)


def test_second_ctrl_c_leaves_at_once_and_loses_nothing(tmp_path: Path) -> None:
    """Two SIGINTs: exit 130 at once with no traceback; the resumed import adds each row once."""
    proc, source = _started(tmp_path)
    stop_at_once(proc)
    _resumed(tmp_path, source)
    _assert_each_row_once(tmp_path, ROWS)


def test_a_row_that_cannot_be_recorded_fails_alone(cli: Cli, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A value SQLite refuses fails its own row only; the rest of its chunk and the others land."""
    checked = validate.year
    monkeypatch.setattr(validate, "year", lambda v: 2**70 if v == "2099" else checked(v))
    rows = 2 * runner.CHUNK_ITEMS + 500
    bad_line = runner.CHUNK_ITEMS + 123
    lines = _csv(tmp_path / "dvds.csv", rows).read_text().splitlines(keepends=True)
    # Not plain ASCII, so the general checks read it (the patched year with them).
    lines[bad_line - 1] = "Too bïg,2099,999999,,\n"
    (tmp_path / "dvds.csv").write_text("".join(lines), encoding="utf-8")
    summary = cli.json("import", str(tmp_path / "dvds.csv"))
    assert (summary["processed"], summary["updated"], summary["failed"]) == (rows, rows - 1, 1)
    [failure] = summary["failures"]
    assert failure["item"] == f"line:{bad_line}"
    assert failure["reason"].startswith("cannot be recorded: OverflowError")
    dvds = cli.export("dvds")
    assert len(dvds) == rows - 1 and "Too bïg" not in {d["title"] for d in dvds}
    assert [d["id"] for d in dvds] == list(range(1, rows))


def test_a_dry_run_of_a_batched_command_records_nothing(cli: Cli, tmp_path: Path) -> None:
    """import --dry-run and normalize --dry-run count every row and leave the log as it was; in
    a home with no database yet, a dry run creates neither the home nor a tracker.db."""
    source = _csv(tmp_path / "dvds.csv", 2500)
    assert not cli.home.exists()
    summary = cli.json("import", str(source), "--dry-run")
    assert (summary["processed"], summary["updated"]) == (2500, 2500)
    assert not cli.home.exists()
    cli.ok("import", str(source))
    before = cli.events()
    assert cli.json("normalize-uk-certifications", "--dry-run")["updated"] == 2500
    assert cli.events() == before
    assert cli.json("normalize-uk-certifications")["updated"] == 2500
    assert {d["uk_certification"] for d in cli.export("dvds")} == {"12a"}


async def test_a_chunk_is_taken_up_before_its_sql_and_recorded_by_the_flush(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """write_many's future resolves once the writer has done a chunk's Python, while its SQL is
    still to run (the caller prepares the next chunk meanwhile); the flush waits for the commit."""
    sql_may_run = threading.Event()
    insert_held = EventStore.insert_held

    def held_insert(self: EventStore, held: list) -> None:
        assert sql_may_run.wait(10)
        insert_held(self, held)

    with Database(tmp_path / "tracker.db") as db:
        async with Writer(db) as writer:
            await writer.write([CommandRequested(command_id="c1", name="import")], "c1")
            await writer.flush()
            monkeypatch.setattr(EventStore, "insert_held", held_insert)
            taken = await writer.write_many([([DvdAdded(dvd_id=0, title=f"Film {i}")], "c1") for i in range(3)])
            await asyncio.wait_for(taken, 10)  # resolved although the SQL waits
            side = db.side_store()
            assert side.count() == 1  # nothing of the chunk committed yet
            side.close()
            sql_may_run.set()
            await writer.flush()
        assert db.store.count() == 4
        assert [r[0] for r in db.conn.execute("SELECT title FROM dvds ORDER BY id")] == ["Film 0", "Film 1", "Film 2"]
        assert db.store.verify_chain() == []


def test_a_batched_command_shortens_the_switch_interval_while_it_runs(cli: Cli, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The GIL's switch interval is BATCHED_SWITCH_INTERVAL_S during an import, and the
    interpreter's own again after it."""
    before = sys.getswitchinterval()
    seen: list[float] = []
    outcomes_now = runner.outcomes_now

    def spying(*args: Any) -> Any:
        seen.append(sys.getswitchinterval())
        return outcomes_now(*args)

    monkeypatch.setattr(runner, "outcomes_now", spying)
    cli.ok("import", str(_csv(tmp_path / "dvds.csv", 2500)))
    assert seen and set(seen) == {runner.BATCHED_SWITCH_INTERVAL_S}
    assert sys.getswitchinterval() == before
