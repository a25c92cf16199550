"""Replay on two cores: the same tables as one process gives, and one process when the second fails."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from events import types as et
from events.reading import sample_types
from projections.scope import groups
from tests.test_projections import BATCHES, replayed, tables
from tracker import parallel_replay
from tracker.audit import verify
from tracker.db import Database
from tracker.errors import StoreError


@pytest.fixture
def always_parallel(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Split every replay, however small; the list gets each parallel replay's count."""
    monkeypatch.setattr(parallel_replay, "MIN_EVENTS", 0)
    monkeypatch.setattr(parallel_replay, "_second_core_free", lambda: True)
    done: list[int] = []
    real = parallel_replay.fold_in_parallel

    def counted(*args: object) -> int:
        count = real(*args)  # type: ignore[arg-type]
        done.append(count)
        return count
    monkeypatch.setattr(parallel_replay, "fold_in_parallel", counted)
    return done


def _mixed_log(db: Database, dvds: int = 30) -> None:
    """DVDs, catalogue titles and commands: every group of tables has events to fold."""
    for i in range(dvds):
        db.record([et.DvdAdded(dvd_id=0, title=f"Film {i}", tmdb_id=i + 1),
                   et.DvdDetailsRefreshed(dvd_id=i + 1, tagline=f"t{i}", genres=["Drama"]),
                   et.MovieListed(tmdb_id=i % 7 + 1, title=f"Movie {i}", genre_ids=[18]),
                   et.OfferAdded(media_type="movie", tmdb_id=i % 7 + 1, region="GB", offer_type="rent",
                                 provider_id=i % 3),
                   et.ItemProcessed(command_id="c", item=f"dvd:{i + 1}", outcome="updated")], "c")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=BATCHES)
def test_parallel_replay_equals_incremental_application(tmp_path_factory: pytest.TempPathFactory,
                                                        always_parallel: list[int],
                                                        batches: list[tuple[str | None, list[et.Event]]]) -> None:
    """A replay split over two processes gives the tables incremental application gave, into
    another database and into the live one, and verify agrees."""
    path = tmp_path_factory.mktemp("parallel") / "tracker.db"
    with Database(path) as db:
        for command_id, events in batches:
            db.record(events, command_id)
        live = tables(db.conn)
        always_parallel.clear()
        assert replayed(db) == live
        assert verify(db) == []
        db.replay()
        assert tables(db.conn) == live
        if parallel_replay.plan(db.store, db.store.count()) is not None:
            assert always_parallel == [db.store.count()] * 3, "every replay went parallel"
    assert not list(path.parent.glob(".replay-*")), "the scratch folder is removed"


def test_a_big_mixed_log_is_split_and_replays_exactly(tmp_path: Path, always_parallel: list[int]) -> None:
    """The plan puts the groups with most events in different processes, and the live replay
    rebuilds the very rows, indexes included."""
    with Database(tmp_path / "tracker.db") as db:
        _mixed_log(db)
        split = parallel_replay.plan(db.store, db.store.count())
        assert split is not None and split.here and split.there
        assert not set(split.here) & set(split.there)
        live = tables(db.conn)
        indexes = db.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY 1").fetchall()
        assert db.replay() == 150
        assert always_parallel == [150]
        assert tables(db.conn) == live
        assert db.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY 1").fetchall() \
            == indexes
        assert db.conn.execute("PRAGMA database_list").fetchall() == [(0, "main", str(tmp_path / "tracker.db"))]


def test_an_import_shaped_log_is_weighed_by_both_its_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log that writes DvdAdded and ItemProcessed by turns (an import) is split between the DVDs
    and the commands (sampling every Nth seq saw only one of the two types, and left it whole),
    and the split replay counts every event, those no fold takes too, as one process does."""
    with Database(tmp_path / "t.db") as db:
        db.record([et.CommandRequested(command_id="c1", name="import"),
                   et.CommandInterrupted(command_id="c1")], "c1")  # a type no fold takes
        for start in range(0, 4_000, 500):
            events: list[et.Event] = []
            for i in range(start, start + 500):
                events += [et.DvdAdded(dvd_id=0, title=f"Film {i}"),
                           et.ItemProcessed(command_id="c1", item=f"line:{i + 2}", outcome="updated")]
            db.record(events, "c1")
        until = db.store.count()
        assert until % parallel_replay.SAMPLE_POINTS == 2 and (until // parallel_replay.SAMPLE_POINTS) % 2 == 0
        sampled = set(sample_types(db.store.conn, until_seq=until, points=parallel_replay.SAMPLE_POINTS))
        assert {"DvdAdded", "ItemProcessed"} <= sampled
        monkeypatch.setattr(parallel_replay, "MIN_EVENTS", 0)
        monkeypatch.setattr(parallel_replay, "_second_core_free", lambda: True)
        split = parallel_replay.plan(db.store, until)
        counted: list[int] = []
        fold_in_parallel = parallel_replay.fold_in_parallel
        monkeypatch.setattr(parallel_replay, "fold_in_parallel", lambda *a: counted.append(1) or fold_in_parallel(*a))
        assert db.replay() == until and counted == [1]  # split, and every event counted, as in one process
    assert split is not None
    halves = [{t for i in half for t in groups()[i].tables} for half in (split.here, split.there)]
    assert any("dvds" in h for h in halves) and any("command_items" in h for h in halves)
    assert not any("dvds" in h and "command_items" in h for h in halves)


def test_the_split_ends_soonest_and_leaves_the_whole_cache_to_who_needs_it() -> None:
    """The split ends when its slower process does (this one carrying its overhead), a group
    that wants the whole cache goes to the second process, and a log all in one group or all
    in such groups is not split."""
    split = parallel_replay.best_split([3.0, 1.6, 1.6, 0.0, 2.3, 0.0], [False, True, False, False, False, False],
                                       overhead=0.9)
    assert split is not None and 1 in split.there
    assert sorted(split.there) == [0, 1]  # 4.6 there against 3.9 + 0.9 here: the soonest end
    # The heavier group goes to the second process: 3 there against 1 + 5 here, not 3 + 5.
    assert parallel_replay.best_split([1.0, 3.0], [False, False], overhead=5.0) == \
        parallel_replay.Split(here=(0,), there=(1,))
    assert parallel_replay.best_split([4.0, 0.0, 0.0], [False, False, False], overhead=0.0) is None
    assert parallel_replay.best_split([1.0, 2.0], [True, True], overhead=0.0) is None


@pytest.mark.parametrize(("minute", "runnable", "free"), [(0.4, 9, True), (1.8, 1, True), (1.8, 2, False),
                                                       (3.0, 2, False)])
def test_a_second_core_is_free_by_the_minute_or_by_the_run_queue_now(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, minute: float, runnable: int, free: bool) -> None:
    """On two CPUs, a replay splits when the last minute's load leaves one idle, or when nothing
    else is runnable right now (the minute still counting a command that just ended)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (minute, minute, minute))
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"{minute:.2f} 1.00 0.90 {runnable}/312 4242\n", encoding="ascii")
    monkeypatch.setattr(parallel_replay, "LOADAVG", loadavg)
    assert parallel_replay._runnable_now() == runnable
    assert parallel_replay._second_core_free() is free
    loadavg.unlink()  # no run queue to read: only the minute counts
    assert parallel_replay._second_core_free() is (minute < 1.5)


def test_a_task_runnable_at_one_look_only_leaves_the_second_core_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task passing through the run queue (runnable at one look of five) does not count as
    busy; one runnable at every look does."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (1.9, 1.9, 1.9))
    for looks, free in (([1, 3, 1, 2, 1], True), ([2, 3, 2, 2, 4], False)):
        monkeypatch.setattr(parallel_replay, "LOADAVG", _Looks(looks))
        assert parallel_replay._second_core_free() is free


class _Looks:
    """A /proc/loadavg whose run queue reads these counts, one a look."""

    def __init__(self, runnable: list[int]) -> None:
        self.runnable = iter(runnable)

    def read_text(self, encoding: str) -> str:
        """The next look."""
        return f"1.90 1.00 0.90 {next(self.runnable)}/312 4242\n"


def test_a_second_process_that_fails_leaves_the_replay_to_one(tmp_path: Path, always_parallel: list[int],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """When the second process cannot run, the replay happens in one process: same tables, no
    scratch folder left, the live tables never half rebuilt."""
    monkeypatch.setattr(parallel_replay, "WORKER_MODULE", "tracker.no_such_module")
    with Database(tmp_path / "tracker.db") as db:
        _mixed_log(db)
        live = tables(db.conn)
        assert db.replay() == 150
        assert always_parallel == []  # the parallel attempt raised, and was not counted
        assert tables(db.conn) == live
    assert not list(tmp_path.glob(".replay-*"))


def test_a_row_that_no_longer_decodes_is_reported_as_before(tmp_path: Path, always_parallel: list[int]) -> None:
    """A broken row in the second process's share: the replay in one process names it, and the
    live tables stay as they were."""
    with Database(tmp_path / "tracker.db") as db:
        _mixed_log(db)
        split = parallel_replay.plan(db.store, db.store.count())
        assert split is not None
        theirs = {tag for i in split.there for tag in groups()[i].tags}
        seq, type_ = next((r.seq, r.type) for r in db.store.read() if r.type in theirs)
    conn = sqlite3.connect(tmp_path / "tracker.db")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET data = '{broken' WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    with Database(tmp_path / "tracker.db") as db:
        live = tables(db.conn)
        with pytest.raises(StoreError, match=rf"^event {seq} \({type_}\) cannot be decoded"):
            db.replay()
        assert tables(db.conn) == live
    assert always_parallel == []


def test_scratch_folders_of_killed_replays_are_swept(tmp_path: Path, always_parallel: list[int]) -> None:
    """A scratch folder left by a replay whose process is gone is removed by the next replay;
    one whose process still runs is left alone."""
    dead = _dead_pid()
    left = tmp_path / f".replay-{dead}-abc"
    (left / "side.db").parent.mkdir()
    (left / "side.db").write_bytes(b"half written")
    running = tmp_path / f".replay-{os.getpid()}-xyz"
    running.mkdir()
    with Database(tmp_path / "tracker.db") as db:
        _mixed_log(db, dvds=5)
        db.replay()
    assert always_parallel == [25]
    assert not left.exists()
    assert running.exists()


def _dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_no_event_comes_in_while_a_live_replay_is_split(tmp_path: Path, always_parallel: list[int],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """From before the second process starts until the commit, the live replay holds the write
    lock: another writer cannot append, so the end of the log it folds to stays the end."""
    tried: list[str] = []
    real_start = parallel_replay.Worker.start

    def start_and_try_a_write(*args: object):
        other = sqlite3.connect(tmp_path / "tracker.db", timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")
            tried.append("appended")
        except sqlite3.OperationalError as exc:
            tried.append(str(exc))
        finally:
            other.close()
        return real_start(*args)  # type: ignore[arg-type]
    monkeypatch.setattr(parallel_replay.Worker, "start", start_and_try_a_write)
    with Database(tmp_path / "tracker.db") as db:
        _mixed_log(db)
        live = tables(db.conn)
        assert db.replay() == 150
        assert tables(db.conn) == live
    assert tried == ["database is locked"]
    assert always_parallel == [150]


def test_a_split_live_replay_behind_another_writer_leaves_it_to_one_process(
        tmp_path: Path, always_parallel: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holding the write lock: the split replay gives up within LOCK_WAIT_MS
    instead of waiting silently, and the replay in one process waits for the lock and runs."""
    monkeypatch.setattr(parallel_replay, "LOCK_WAIT_MS", 200)
    with Database(tmp_path / "tracker.db") as db:
        _mixed_log(db)
        live = tables(db.conn)
        other = sqlite3.connect(tmp_path / "tracker.db", isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        releaser = threading.Timer(1.5, lambda: other.execute("ROLLBACK"))
        releaser.start()
        started = time.monotonic()
        try:
            assert db.replay() == 150
        finally:
            releaser.join()
            other.close()
        assert time.monotonic() - started >= 1.4  # it waited for the other writer ...
        assert always_parallel == []  # ... in one process: the split one gave up
        assert tables(db.conn) == live
