"""Export lines cached beside a checkpoint: the same bytes as the plain encoding, trusted only when they match."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from events.types import DvdAdded, DvdDetailsRefreshed, DvdTorrentsChecked, Torrent
from projections import export_cache
from projections.export import export_rows
from tests.engine_support import read_only
from tests.offline_support import Cli
from tracker import checkpoint_retention, checkpoints
from tracker.cli.output import write_export
from tracker.db import Database

# Values whose JSON is easy to get wrong: floats msgspec and SQLite print differently, big
# integers, control characters, a line separator, emoji, quotes. (NaN cannot be in the log: the
# event's JSON would say null, which a float field does not decode.)
HOSTILE_RATINGS = (0.1 + 0.2, 1e20, -0.0, 5e-324, 1.7976931348623157e308, 1e16,
                   123456789012345.6, 2.5e-5, 8.4, 100.0)
HOSTILE_TEXT = "tab\there \x00\x01\x1f\x7f nl\n cr\r \u2028 \"q\" \\ é 🎬 </script>"


def _plain(conn: sqlite3.Connection, fmt: str) -> bytes:
    """The dvds export encoded the plain way: a dict per row, JSON decoded, encoded again."""
    out = io.StringIO()
    write_export(export_rows(conn, "dvds"), fmt, out)
    return out.getvalue().encode()


def _as_of(db_path: Path, mark: str, fmt: str) -> bytes:
    """The plain encoding of the dvds of a full replay from the first event to ``mark``."""
    with Database(db_path) as db, sqlite3.connect(":memory:", isolation_level=None) as fresh:
        db.replay(until_at=mark, target=fresh)
        return _plain(fresh, fmt)


def _exported(cli: Cli, *args: str) -> bytes:
    rc, out, err = cli("export", "dvds", *args)
    assert rc == 0, err
    return out.encode()


def _last_at(db_path: Path) -> str:
    with Database(db_path) as db:
        return next(db.store.read(after_seq=db.store.count() - 1)).at


@pytest.fixture
def hostile(cli: Cli) -> Cli:
    """A home whose DVDs hold hostile floats, integers and text (details and torrents recorded)."""
    cli.ok("add", "Heat", "--year", "1995")  # through the CLI too: its command rows are in the log
    with Database(cli.db) as db:
        db.record([DvdAdded(dvd_id=0, title=f"{HOSTILE_TEXT} {i}", year=1990 + i, source="import")
                   for i in range(1, len(HOSTILE_RATINGS))])
        # more rows than the tests' edits make events: export of now starts from the checkpoint too
        db.record([DvdAdded(dvd_id=0, title=f"Plain {i}", source="import") for i in range(100)])
        for i, rating in enumerate(HOSTILE_RATINGS, start=1):
            db.record([DvdDetailsRefreshed(dvd_id=i, tagline=HOSTILE_TEXT[i:], rating=rating,
                                           budget=2**63 - 1, revenue=-1, production_companies=[HOSTILE_TEXT],
                                           director="=cmd|' /C calc'!A0", genres=["Drama", "🎬"]),
                       DvdTorrentsChecked(dvd_id=i, torrents=[Torrent("720p", "web", 1, 2, 2**40, "A" * 40)])])
    return cli


def test_exports_from_a_checkpoints_lines_are_the_plain_bytes(hostile: Cli) -> None:
    """After a checkpoint, edits, removals and additions: export now and --as-of give the plain bytes."""
    cli = hostile
    cli.ok("checkpoint")
    cli.ok("edit", "1", "--title", "Renamed \"é\" 🎬 \\", "--lock", "director")
    cli.ok("remove", "2")
    cli.ok("add", "Brand New", "--year", "2020")
    mark = _last_at(cli.db)
    time.sleep(0.01)
    cli.ok("edit", "3", "--title", "After the moment")
    cli.ok("remove", "4")
    for fmt in ("json", "jsonl"):
        want = _as_of(cli.db, mark, fmt)
        assert b"Renamed" in want and b"Brand New" in want and b"After the moment" not in want
        assert _exported(cli, "--format", fmt, "--as-of", mark) == want, fmt
        with Database(cli.db) as db:
            now = _plain(db.conn, fmt)
        assert b"After the moment" in now
        assert _exported(cli, "--format", fmt) == now, fmt
    caches = sorted(p.name for p in (cli.home / "checkpoints").iterdir() if p.suffix == ".export")
    assert len(caches) == 1 and caches[0].endswith(".dvds.export")


def test_the_lines_are_written_once_and_reused(hostile: Cli) -> None:
    """The first export from a checkpoint writes its lines; later ones read that file, not a new one."""
    cli = hostile
    cli.ok("checkpoint")
    cli.ok("edit", "1", "--title", "Changed")
    first = _exported(cli, "--format", "jsonl")
    (cache,) = (cli.home / "checkpoints").glob("*.export")
    inode = cache.stat().st_ino
    assert _exported(cli, "--format", "jsonl") == first
    assert cache.stat().st_ino == inode
    assert [p.name for p in (cli.home / "checkpoints").iterdir() if p.name.startswith(".tmp-")] == []


def test_an_empty_table_at_a_checkpoint_exports_an_empty_array(cli: Cli) -> None:
    """A checkpoint with no DVDs: [] as json, nothing as jsonl; a DVD added since is put in (--as-of)."""
    cli.ok("add", "Gone")
    cli.ok("remove", "1")
    cli.ok("checkpoint")
    assert _exported(cli) == b"[]\n" and _exported(cli, "--format", "jsonl") == b""
    cli.ok("add", "Heat")
    mark = _last_at(cli.db)
    want = _as_of(cli.db, mark, "json")
    assert b"Heat" in want and _exported(cli, "--as-of", mark) == want
    assert [p.suffix for p in (cli.home / "checkpoints").iterdir()].count(".export") == 1


def test_a_small_table_far_past_its_checkpoint_exports_its_live_rows(cli: Cli) -> None:
    """export of now with more events since the checkpoint than rows: the plain path, no lines written."""
    cli.ok("add", "Heat")
    cli.ok("checkpoint")
    for year in ("1995", "1996", "1997"):
        cli.ok("edit", "1", "--year", year)
    with Database(cli.db) as db:
        want = _plain(db.conn, "jsonl")
    assert b'"year":1997' in want and _exported(cli, "--format", "jsonl") == want
    assert [p.suffix for p in (cli.home / "checkpoints").iterdir()] == [".db"]


def test_lines_of_another_checkpoint_are_not_used(hostile: Cli) -> None:
    """A cache file whose footer names another checkpoint is written again, and the export stays exact."""
    cli = hostile
    with Database(cli.db) as db:
        first = checkpoints.save(db)
    _exported(cli, "--format", "jsonl")
    cli.ok("edit", "1", "--title", "Second")
    with Database(cli.db) as db:
        second = checkpoints.save(db)
    old = first.path.with_name(f"{first.path.stem}.dvds.export")
    new = second.path.with_name(f"{second.path.stem}.dvds.export")
    new.write_bytes(old.read_bytes())  # the first checkpoint's lines under the second's name
    with Database(cli.db) as db:
        want = _plain(db.conn, "jsonl")
    assert cli("verify")[0] == 0  # lines naming another checkpoint are never used: nothing to report
    assert b"Second" in want and _exported(cli, "--format", "jsonl") == want
    reread = export_cache.read(new)
    assert reread is not None and reread.footer.seq == second.seq


def test_verify_catches_lines_that_disagree_with_the_log(hostile: Cli) -> None:
    """A cache file altered in place (a line, or a key) makes verify exit 1 naming it."""
    cli = hostile
    cli.ok("checkpoint")
    _exported(cli, "--format", "jsonl")
    assert cli("verify")[0] == 0
    (cache,) = (cli.home / "checkpoints").glob("*.export")
    data = cache.read_bytes()
    cache.write_bytes(data.replace(b"Drama", b"Comic", 1))
    rc, out, _ = cli("verify")
    assert rc == 1 and f"export cache {cache.name}: its lines differ from an export of a replay" in out
    read = export_cache.read(cache)
    assert read is not None
    at = read.footer.lines_bytes  # the first row's key, 1, made 99: the lines themselves intact
    cache.write_bytes(data[:at] + (99).to_bytes(8, sys.byteorder) + data[at + 8:])
    rc, out, _ = cli("verify")
    assert rc == 1 and f"export cache {cache.name}: its lines differ" in out


def test_caches_of_pruned_checkpoints_go_with_them(hostile: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saving a checkpoint deletes the export lines of the checkpoints it prunes."""
    cli = hostile
    monkeypatch.setattr(checkpoint_retention, "NEWEST_KEPT", 1)
    monkeypatch.setattr(checkpoint_retention, "MAX_KEPT", 1)
    cli.ok("checkpoint")
    _exported(cli, "--format", "jsonl")
    cli.ok("add", "Another")
    cli.ok("checkpoint")
    names = sorted(p.name for p in (cli.home / "checkpoints").iterdir())
    assert len(names) == 1 and names[0].endswith(".db")


def test_ctrl_c_while_lines_are_written_leaves_no_file(hostile: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while a cache is written: exit 130 and no cache or temp file left in the folder."""
    cli = hostile
    cli.ok("checkpoint")
    written = export_cache.write

    def interrupted(*args: object) -> None:
        written(*args)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(export_cache, "write", interrupted)
    rc, _, err = cli("export", "dvds", "--format", "jsonl")
    assert (rc, err) == (130, "tracker export: interrupted\n")
    assert [p.suffix for p in (cli.home / "checkpoints").iterdir()] == [".db"]


def test_a_read_only_home_exports_without_writing_lines(hostile: Cli) -> None:
    """In a read-only home a checkpoint without cached lines still gives the exact bytes, and nothing is written."""
    cli = hostile
    cli.ok("checkpoint")
    cli.ok("edit", "1", "--title", "Later")
    mark = _last_at(cli.db)
    want = _as_of(cli.db, mark, "jsonl")
    before = sorted(p.name for p in cli.home.rglob("*"))
    with read_only(cli.home):
        done = subprocess.run([sys.executable, "-m", "tracker", "--home", str(cli.home), "export", "dvds",
                               "--format", "jsonl", "--as-of", mark], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == want
    assert sorted(p.name for p in cli.home.rglob("*")) == before


def test_far_from_a_checkpoint_one_is_saved_at_the_moment_with_its_lines(hostile: Cli,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """export --as-of far from any checkpoint saves one at the moment with its lines; the bytes stay plain."""
    cli = hostile
    cli.ok("edit", "2", "--title", "Later")
    mark = _last_at(cli.db)
    cli.ok("edit", "3", "--title", "After")
    with Database(cli.db) as db:
        reached = db.store.seq_at(mark)
    monkeypatch.setattr(checkpoints, "TRAVEL_SAVE_EVENTS", 5)
    for fmt in ("jsonl", "json"):
        assert _exported(cli, "--format", fmt, "--as-of", mark) == _as_of(cli.db, mark, fmt), fmt
    names = sorted(p.name for p in (cli.home / "checkpoints").iterdir())
    assert names == [f"{reached:012d}.db", f"{reached:012d}.dvds.export"]
