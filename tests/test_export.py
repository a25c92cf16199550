"""export and time travel: the fast path (rows straight to msgspec) and the scoped fold agree with the plain ones."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from pathlib import Path

import pytest

from projections import snapshot
from projections.export import export_rows
from projections.tables import EXPORTABLE
from tests.engine_support import FAST_RETRIES
from tests.offline_support import Cli
from tests.web_support import LOCAL_RATES, copy_home
from tracker import checkpoints
from tracker.cli.demo import run_step
from tracker.cli.output import write_export
from tracker.config import load_settings
from tracker.db import Database
from tracker.sandbox.server import SandboxThread

FORMATS = ("json", "jsonl", "csv")
# The catalogue steps the sample home leaves out: movies, shows, genres, providers and offers.
CATALOGUE_STEPS = (("populate-genres", {}), ("populate-db", {"pages": 1}), ("update-watch-providers", {}),
                   ("get-providers-logo", {}))


def _reference(conn: sqlite3.Connection, table: str, fmt: str) -> bytes:
    """A table encoded the plain way: a dict per row, its JSON columns decoded, then encoded again."""
    out = io.StringIO()
    write_export(export_rows(conn, table), fmt, out)
    return out.getvalue().encode()


def _exported(cli: Cli, *args: str) -> bytes:
    """What ``tracker export ARGS`` writes to stdout, as bytes."""
    rc, out, err = cli("export", *args)
    assert rc == 0, err
    return out.encode()


@pytest.fixture(scope="module")
def full_home(sample_home: Path, web_sandbox: SandboxThread,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The processed sample collection plus the catalogue: every exported table holds rows."""
    home = copy_home(sample_home, tmp_path_factory.mktemp("full") / "home")
    settings = load_settings(home=home, env={**web_sandbox.env(), **FAST_RETRIES, **LOCAL_RATES})
    for name, options in CATALOGUE_STEPS:
        assert asyncio.run(run_step(settings, name, options))["status"] == "completed", name
    return home


@pytest.fixture
def sample(full_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI on a copy of the full home."""
    return Cli(copy_home(full_home, tmp_path / "home"), capsys)


def test_export_writes_the_bytes_of_the_plain_encoding(sample: Cli) -> None:
    """Every table, as json, jsonl and csv, is byte for byte what encoding each row's dict gives."""
    sample.ok("add", "=1+1", "--year", "1999")  # a formula, neutralised in CSV
    sample.ok("edit", "1", "--tagline", "-dash, \"quoted\" é", "--lock", "director")
    with Database(sample.db) as db:
        expected = {(t, f): _reference(db.conn, t, f) for t in EXPORTABLE for f in FORMATS}
    assert b"'=1+1" in expected["dvds", "csv"] and b'"\'-dash, ""quoted"" \xc3\xa9"' in expected["dvds", "csv"]
    for (table, fmt), want in expected.items():
        assert want.count(b"\n") > 2, f"the sample has no {table} rows to compare"
        assert _exported(sample, table, "--format", fmt) == want, (table, fmt)


def test_export_as_of_equals_a_full_replay_byte_for_byte(sample: Cli) -> None:
    """export --as-of from a checkpoint gives the bytes of a replay from the first event to that moment."""
    sample.ok("checkpoint")
    sample.ok("edit", "1", "--title", "Renamed", "--lock", "director")
    sample.ok("remove", "2")
    sample.ok("add", "Brand New", "--year", "2020")
    with Database(sample.db) as db:
        mark = next(db.store.read(after_seq=db.store.count() - 1)).at
    time.sleep(0.01)
    sample.ok("edit", "3", "--title", "After the moment")
    with Database(sample.db) as db, sqlite3.connect(":memory:", isolation_level=None) as fresh:
        db.replay(until_at=mark, target=fresh)
        expected = {(t, f): _reference(fresh, t, f) for t in ("dvds", "movies") for f in FORMATS}
    assert b'"title":"Renamed"' in expected["dvds", "jsonl"] and b"After the moment" not in expected["dvds", "jsonl"]
    for (table, fmt), want in expected.items():
        assert _exported(sample, table, "--format", fmt, "--as-of", mark) == want, (table, fmt)
    assert _exported(sample, "dvds", "--as-of", "2000-01-01T00:00:00Z") == b"[]\n"


def test_export_as_of_far_from_any_checkpoint_saves_one_there(sample: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Far from a checkpoint, export --as-of folds every table and saves a checkpoint at the moment."""
    with Database(sample.db) as db:
        seq = db.store.count() - 5
        mark = next(db.store.read(after_seq=seq - 1)).at
        reached = db.store.seq_at(mark)
        with sqlite3.connect(":memory:", isolation_level=None) as fresh:
            db.replay(until_seq=reached, target=fresh)
            want = _reference(fresh, "dvds", "jsonl")
    monkeypatch.setattr(checkpoints, "TRAVEL_SAVE_EVENTS", reached // 2)
    assert _exported(sample, "dvds", "--format", "jsonl", "--as-of", mark) == want
    assert [p.name for p in (sample.home / "checkpoints").glob("*.db")] == [f"{reached:012d}.db"]
    assert _exported(sample, "dvds", "--format", "jsonl", "--as-of", mark) == want


def test_a_checkpoint_interrupted_while_saved_leaves_no_file(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while a checkpoint is written: one line, exit 130, and no file left in the folder."""
    cli.ok("add", "Heat")
    written = snapshot.save

    def interrupted(*args: object) -> dict[str, str]:
        written(*args)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(snapshot, "save", interrupted)
    assert cli("checkpoint") == (130, "", "tracker checkpoint: interrupted\n")
    assert list((cli.home / "checkpoints").iterdir()) == []
