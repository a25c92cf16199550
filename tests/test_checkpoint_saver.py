"""Checkpoints saved inside long commands on a thread of their own, and their pruning."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from events.types import DvdAdded
from projections import commands as command_table
from projections import snapshot
from projections.export import export_rows
from projections.tables import TABLES
from tests.offline_support import Cli
from tracker import checkpoint_retention, checkpoint_saver, checkpoints
from tracker.checkpoint_saver import BackgroundSaver
from tracker.cli.output import write_export
from tracker.commands.collection import Import
from tracker.config import load_settings
from tracker.db import Database
from tracker.engine import runner, writer
from tracker.engine.engine import Engine
from tracker.engine.submit import enqueue

EVERY = 300  # events between checkpoints in these tests (a chunk of 50 rows is ~100 events)


@pytest.fixture
def small_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints every EVERY events, and the import's chunks small enough to cross it often."""
    monkeypatch.setattr(checkpoints, "EVERY_EVENTS", EVERY)
    monkeypatch.setattr(runner, "CHUNK_ITEMS", 50)
    monkeypatch.setattr(writer, "BATCH_EVENTS", 100)


def _import(cli: Cli, tmp_path: Path, rows: int) -> tuple[int, int]:
    """Import a CSV of ``rows`` films through the CLI; the seqs of the command's first and last events."""
    path = tmp_path / "dvds.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["title", "year", "uk_certification"])
        out.writerows([f"Film {i}", 1950 + i % 70, "15A"] for i in range(rows))
    before = cli.count()
    cli.ok("import", str(path))
    return before + 1, cli.count()


def _plain_export(db: Database, seq: int) -> bytes:
    """dvds as exported from a replay of the log from the first event to ``seq``."""
    with sqlite3.connect(":memory:", isolation_level=None) as fresh:
        db.replay(until_seq=seq, target=fresh)
        out = io.StringIO()
        write_export(export_rows(fresh, "dvds"), "jsonl", out)
    return out.getvalue().encode()


def _moment_inside_import(cli: Cli, tmp_path: Path, past: int) -> tuple[checkpoints.Checkpoint, str, int, bytes]:
    """Import 500 rows; the first checkpoint inside the import, a moment ``past`` events after it,
    the seq that moment reaches and dvds exported from a full replay to it."""
    first, last = _import(cli, tmp_path, 500)
    with Database(cli.db) as db:
        ck = next(ck for ck in checkpoints.listing(db) if first <= ck.seq < last - EVERY // 2)
        mark = next(db.store.read(after_seq=ck.seq + past - 1)).at
        reached = db.store.seq_at(mark)
        return ck, mark, reached, _plain_export(db, reached)


def test_a_long_import_leaves_trusted_checkpoints_inside_its_span(cli: Cli, tmp_path: Path,
                                                                   small_interval: None) -> None:
    """An import of ~1,000 events saves a trusted checkpoint inside its span once EVERY events passed."""
    cli.ok("add", "Heat")
    first, last = _import(cli, tmp_path, 500)
    with Database(cli.db) as db:
        inside = [ck for ck in checkpoints.listing(db) if first <= ck.seq < last]
        assert inside and all(checkpoints.untrusted_reason(db, ck) is None for ck in inside)
    # The first is pinned at the first commit past EVERY events (a batch is ~100 events here);
    # later ones come as soon as the one before is done.
    assert inside[0].seq - first < EVERY + 200, [ck.seq for ck in inside]
    assert not [p.name for p in (cli.home / "checkpoints").iterdir() if p.name.startswith(".tmp-")]


def test_saves_inside_a_command_are_spaced_by_the_rows_they_copy(cli: Cli, tmp_path: Path, small_interval: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint notes the rows it holds, and the next save inside a command waits for that
    many events times EVENTS_PER_ROW_COPIED (EVERY_EVENTS at least): copies grow apart with the tables."""
    monkeypatch.setattr(checkpoints, "EVENTS_PER_ROW_COPIED", 2.0)
    monkeypatch.setattr(checkpoint_saver, "COPY_SHARE", 1.0)  # the spacing in events alone decides
    first, last = _import(cli, tmp_path, 1500)
    with Database(cli.db) as db:
        inside = [ck for ck in checkpoints.listing(db) if first <= ck.seq < last]
        for ck in inside:
            with sqlite3.connect(ck.path) as conn:
                held = sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES)
            assert ck.rows == held > 0
    gaps = [(later.seq - ck.seq, ck.rows) for ck, later in itertools.pairwise(inside)]
    assert len(inside) >= 2 and all(gap >= 2 * rows for gap, rows in gaps), gaps
    assert gaps[-1][0] > 2 * EVERY, gaps  # every EVERY events, as before, would be ~EVERY each


def test_time_travel_into_a_long_command_starts_from_its_checkpoint(cli: Cli, tmp_path: Path,
                                                                    small_interval: None) -> None:
    """replay --as-of into an import folds from the checkpoint saved inside it; export gives a full replay's rows."""
    ck, mark, reached, want = _moment_inside_import(cli, tmp_path, EVERY // 3)
    assert ck.seq < reached < ck.seq + EVERY
    target = tmp_path / "then.db"
    out = cli.ok("replay", "--as-of", mark, "--into", str(target))
    folded = reached - ck.seq
    assert out == f"replayed {reached} events (from the checkpoint at seq {ck.seq}, then {folded}) into {target}\n"
    rc, exported, _err = cli("export", "dvds", "--format", "jsonl", "--as-of", mark)
    assert rc == 0 and exported.encode() == want


def test_export_well_past_a_checkpoint_saves_one_at_the_moment(cli: Cli, tmp_path: Path, small_interval: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """export --as-of far past the nearest checkpoint saves one at the moment, kept and used next time."""
    monkeypatch.setattr(checkpoints, "TRAVEL_SAVE_EVENTS", EVERY // 3)
    _ck, mark, reached, want = _moment_inside_import(cli, tmp_path, EVERY // 2)
    monkeypatch.setattr(checkpoint_retention, "NEWEST_KEPT", 1)  # the thinning alone would drop it
    monkeypatch.setattr(checkpoint_retention, "MAX_KEPT", 1)
    rc, exported, _err = cli("export", "dvds", "--format", "jsonl", "--as-of", mark)
    assert rc == 0 and exported.encode() == want
    assert (cli.home / "checkpoints" / f"{reached:012d}.db").exists()
    target = tmp_path / "then.db"
    out = cli.ok("replay", "--as-of", mark, "--into", str(target))
    assert out == f"replayed {reached} events (from the checkpoint at seq {reached}, then 0) into {target}\n"


def _recorded(db: Database, titles: range) -> None:
    """Record one DvdAdded per title (each its own transaction)."""
    for i in titles:
        db.record([DvdAdded(dvd_id=0, title=f"Film {i}")])


@pytest.fixture
def held_copy(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Saves every 10 events whose copy starts only once released: (copy reached, release)."""
    monkeypatch.setattr(checkpoints, "EVERY_EVENTS", 10)
    reached, release = threading.Event(), threading.Event()
    original = snapshot.fill

    def held_fill(conn: sqlite3.Connection, noted: dict[str, str]) -> None:
        reached.set()
        release.wait(5)
        original(conn, noted)

    monkeypatch.setattr(snapshot, "fill", held_fill)
    return reached, release


@contextmanager
def _copy_begun(tmp_path: Path, reached: threading.Event, *,
                catch_up: bool = False) -> Iterator[tuple[Database, BackgroundSaver]]:
    """A database of 12 events and a saver whose first copy (held) has begun: inside a command,
    or (``catch_up``) the one a command's end left."""
    with Database(tmp_path / "tracker.db") as db:
        saver = BackgroundSaver(db)
        _recorded(db, range(12))
        saver.catch_up() if catch_up else saver.after_commit()
        assert reached.wait(5)
        yield db, saver


def test_a_save_in_flight_at_the_end_is_waited_for(tmp_path: Path, held_copy: tuple[threading.Event, ...]) -> None:
    """Closing the saver while its copy runs waits for it: the checkpoint at the pinned seq is in place."""
    reached, release = held_copy
    with _copy_begun(tmp_path, reached) as (db, saver):
        _recorded(db, range(12, 30))  # the writer goes on while the copy waits
        saver.after_commit()  # due again, but one is under way: put off
        threading.Timer(0.2, release.set).start()
        saver.close()
        assert [ck.seq for ck in checkpoints.listing(db)] == [12]
        assert checkpoints.untrusted_reason(db, checkpoints.listing(db)[0]) is None
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [f"{12:012d}.db"]


def test_the_next_save_waits_so_copies_take_at_most_their_share(
        tmp_path: Path, held_copy: tuple[threading.Event, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a copy that took 0.2 s, a save due at once is put off (COPY_SHARE 0.2: 0.8 s); with share 1 it starts."""
    reached, release = held_copy
    with _copy_begun(tmp_path, reached) as (db, saver):
        threading.Timer(0.2, release.set).start()
        saver.settle(wait_s=5)
        _recorded(db, range(12, 24))
        saver.after_commit()
        saver.settle(wait_s=5)
        assert [ck.seq for ck in checkpoints.listing(db)] == [12]
        monkeypatch.setattr(checkpoint_saver, "COPY_SHARE", 1.0)
        saver._ready_at = 0.0  # as if the wait had passed
        saver.after_commit()
        saver.close()
        assert [ck.seq for ck in checkpoints.listing(db)] == [12, 24]


def test_a_save_abandoned_at_a_stop_leaves_no_file(tmp_path: Path, held_copy: tuple[threading.Event, ...]) -> None:
    """Closing the saver with abandon while its copy runs leaves no checkpoint and no temp file."""
    reached, release = held_copy
    with _copy_begun(tmp_path, reached) as (db, saver):
        threading.Timer(0.2, release.set).start()
        saver.close(abandon=True)
        assert checkpoints.listing(db) == []
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_a_save_outlasting_the_end_wait_is_stopped_and_the_next_runs(
        tmp_path: Path, held_copy: tuple[threading.Event, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """At a command's end, a copy not done within the wait is stopped (no file); the next due save completes."""
    reached, release = held_copy
    monkeypatch.setattr(checkpoint_saver, "COPY_SHARE", 1.0)  # no wait after the stopped copy
    with _copy_begun(tmp_path, reached) as (db, saver):
        threading.Timer(0.3, release.set).start()
        saver.settle(wait_s=0.05)
        assert list((tmp_path / "checkpoints").iterdir()) == []
        _recorded(db, range(12, 24))
        saver.after_commit()
        saver.settle(wait_s=5)
        assert [ck.seq for ck in checkpoints.listing(db)] == [24]
        saver.close()


def test_the_save_a_command_end_left_is_waited_for_whole_at_an_engine_end(
        tmp_path: Path, held_copy: tuple[threading.Event, ...]) -> None:
    """The catch-up save still copying when the engine ends is waited for past the end wait, and
    said once; a save begun inside a command would be stopped (the test above)."""
    reached, release = held_copy
    with _copy_begun(tmp_path, reached, catch_up=True) as (db, saver):
        threading.Timer(0.5, release.set).start()
        told: list[str] = []
        saver.settle(wait_s=0.05, on_long_wait=lambda: told.append("waiting"))
        assert [ck.seq for ck in checkpoints.listing(db)] == [12] and told == ["waiting"]
        saver.close()


def test_a_cli_commands_engine_settles_its_saver_at_the_end(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine a CLI command runs settles a save under way before it closes (bounded, said,
    stopped by Ctrl-C) rather than leaving it to the close, which waits for it whole."""
    settled: list[bool] = []
    monkeypatch.setattr(BackgroundSaver, "settle", lambda self, *args, **kwargs: settled.append(True))
    cli.ok("add", "Heat")
    assert settled == [True]


def test_the_save_a_command_end_left_stops_when_the_engine_is_stopped(
        tmp_path: Path, held_copy: tuple[threading.Event, ...]) -> None:
    """Ctrl-C while an engine's end waits for the catch-up save: it is stopped, no file left."""
    reached, release = held_copy
    with _copy_begun(tmp_path, reached, catch_up=True) as (db, saver):
        threading.Timer(0.3, release.set).start()
        saver.settle(stopped=lambda: True)
        assert checkpoints.listing(db) == []
        saver.close()
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_a_save_that_cannot_be_written_does_not_fail_the_command(cli: Cli, tmp_path: Path,
                                                                 small_interval: None) -> None:
    """With no room for checkpoints (a file where the folder goes), the import still lands every row."""
    cli.ok("add", "Heat")
    (cli.home / "checkpoints").write_text("not a folder")
    first, last = _import(cli, tmp_path, 500)
    assert last - first > 3 * EVERY
    assert len(cli.export("dvds")) == 501
    assert (cli.home / "checkpoints").read_text() == "not a folder"


def _newest_seq(cli: Cli) -> int:
    """The seq of the newest checkpoint of the CLI's home (0: none)."""
    with Database(cli.db) as db:
        return max((ck.seq for ck in checkpoints.listing(db)), default=0)


def test_a_command_leaves_its_end_checkpoint_to_the_next_one(cli: Cli, tmp_path: Path, small_interval: None,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A command's end waits for no checkpoint; the next command saves one at the log's head as
    it starts (on the saver's thread, beside its work), trusted, before that command ends."""
    monkeypatch.setattr(checkpoint_saver, "COPY_SHARE", 1e-6)  # one save inside the import, no more
    first, last = _import(cli, tmp_path, 500)
    inside = _newest_seq(cli)
    assert first < inside < last - EVERY  # the import's end was due one, and did not wait for it
    cli.ok("add", "Heat")
    with Database(cli.db) as db:
        caught_up = [ck for ck in checkpoints.listing(db) if ck.seq > inside]
        assert [ck.seq for ck in caught_up] == [last + 1]  # the head once add's intent was in
        assert checkpoints.untrusted_reason(db, caught_up[0]) is None
    cli.ok("add", "Ran")  # nothing more is due: no save
    assert _newest_seq(cli) == last + 1


def test_export_as_of_a_command_end_comes_from_the_checkpoint_the_next_one_saved(
        cli: Cli, tmp_path: Path, small_interval: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The moment an import ended, exported once the next command began: served from the
    checkpoint that command saved at its first event (nothing between can change dvds), with no
    fold, and equal to a full replay's export of that moment."""
    monkeypatch.setattr(checkpoint_saver, "COPY_SHARE", 1e-6)  # one save inside the import, no more
    _first, last = _import(cli, tmp_path, 500)
    with Database(cli.db) as db:
        mark = next(db.store.read(after_seq=last - 1)).at
        want = _plain_export(db, last)
        inside = next(db.store.read(after_seq=last - 251)).at  # DVDs added between it and the next checkpoint
        reached = db.store.seq_at(inside)
        want_inside = _plain_export(db, reached)
    assert reached < last - 100
    time.sleep(0.01)  # the next command's events come strictly after the moment
    cli.ok("add", "Heat")
    folded: list[dict] = []
    fold = Database.fold
    monkeypatch.setattr(Database, "fold",
                        lambda self, *args, **kwargs: folded.append(kwargs) or fold(self, *args, **kwargs))
    rc, exported, _err = cli("export", "dvds", "--format", "jsonl", "--as-of", mark)
    assert rc == 0 and exported.encode() == want
    assert folded == []
    with Database(cli.db) as db:
        assert last + 1 in [ck.seq for ck in checkpoints.listing(db)]
    rc, exported, _err = cli("export", "dvds", "--format", "jsonl", "--as-of", inside)
    assert rc == 0 and exported.encode() == want_inside and len(folded) == 1
    rc, as_csv, _err = cli("export", "dvds", "--format", "csv", "--as-of", mark)  # the time travel's path
    assert rc == 0 and len(folded) == 1
    assert len(as_csv.splitlines()) == 1 + 500 and "Film 499" in as_csv


def test_an_idle_daemon_saves_the_checkpoint_its_last_command_left(cli: Cli, tmp_path: Path, small_interval: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemon that runs a long command, then goes idle, saves the checkpoint at its end meanwhile."""
    monkeypatch.setattr(checkpoint_saver, "COPY_SHARE", 1e-6)  # one save inside the import, no more
    cli.ok("add", "Heat")
    rows = tmp_path / "more.csv"
    rows.write_text("title\n" + "".join(f"Film {i}\n" for i in range(400)), encoding="utf-8")
    settings = load_settings(home=cli.home, env={})
    with Database(settings.db_path) as db:
        command_id = enqueue(db, "import", Import().validate({"file": str(rows)}, settings))[0]

    def caught_up() -> bool:
        with Database(cli.db) as db:
            done = command_table.status_of(db.conn, command_id) == "completed"
            return done and checkpoints.newest_seq(db) == db.store.count()

    async def scenario() -> None:
        async with Engine(settings, role="daemon") as engine:
            task = asyncio.create_task(engine.run())
            try:
                for _ in range(500):
                    if await asyncio.to_thread(caught_up):
                        return
                    await asyncio.sleep(0.02)
            finally:
                engine.stop()
                await task
    asyncio.run(scenario())
    with Database(cli.db) as db:
        (newest,) = [ck for ck in checkpoints.listing(db) if ck.seq == db.store.count()]
        assert newest.seq > 2 * EVERY and checkpoints.untrusted_reason(db, newest) is None


def _pruned_run(head: int, every: int) -> set[int]:
    """The checkpoints left by saving one every ``every`` events to ``head``, pruned after each save."""
    held: set[int] = set()
    for at in range(every, head + 1, every):
        held = checkpoint_retention.kept([*held, at], at)
    return held


def test_pruning_keeps_coverage_over_the_whole_log() -> None:
    """Saving every 50,000 events to 2M: the newest stay, older ones thin out with age, back to the first quarter."""
    every, head = 50_000, 2_000_000
    held = sorted(_pruned_run(head, every))
    assert len(held) <= checkpoint_retention.MAX_KEPT
    assert held[-checkpoint_retention.NEWEST_KEPT:] == list(range(head - 3 * every, head + 1, every))
    assert held[0] <= head // 4
    for older, newer in zip([0, *held], held, strict=False):
        assert newer - older <= max(every, (head - older) // 2), (older, newer, held)
    gaps = [b - a for a, b in itertools.pairwise(held)]
    assert gaps[0] > gaps[-1]  # coarser with age


def test_pruning_holds_at_most_max_kept_however_many_are_saved() -> None:
    """A checkpoint every 1,000 events to 1M (time travel everywhere): at most MAX_KEPT stay, the newest among them."""
    head = 1_000_000
    held = checkpoint_retention.kept(list(range(1_000, head + 1, 1_000)), head)
    assert len(held) == checkpoint_retention.MAX_KEPT
    assert sorted(held)[-checkpoint_retention.NEWEST_KEPT:] == list(range(head - 3_000, head + 1, 1_000))
    assert min(held) <= head // 2
