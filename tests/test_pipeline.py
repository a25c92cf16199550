"""The writer's pipeline: a batch prepared while the one before is still in SQLite ends as if
each had been recorded alone, whatever happens between them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from events.store import EventStore
from events.types import (
    CommandRequested,
    DvdAdded,
    DvdDetailsRefreshed,
    DvdUkCertificationNormalized,
    Event,
    ItemProcessed,
)
from tracker import audit
from tracker.db import Database
from tracker.engine import pipeline, writer
from tracker.engine.writer import Writer

Entries = list[tuple[list[Event], str | None]]


@pytest.fixture
def slow_sql(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each batch its own, and its SQL slow: the next one is prepared while it runs. Returns the
    names of the threads the events' INSERTs ran on."""
    monkeypatch.setattr(writer, "BATCH_EVENTS", 1)
    insert_held = EventStore.insert_held
    threads: list[str] = []

    def slow(self: EventStore, held: list) -> None:
        import threading
        threads.append(threading.current_thread().name)
        time.sleep(0.03)
        insert_held(self, held)
    monkeypatch.setattr(EventStore, "insert_held", slow)
    return threads


def _item(event: Event, n: int) -> tuple[list[Event], str]:
    """An item's events: ``event`` and its ItemProcessed, of command c1."""
    return [event, ItemProcessed(command_id="c1", item=f"i{n}", outcome="updated")], "c1"


async def _record_in_chunks(db: Database, chunks: list[Entries], between=None) -> None:
    """Record each chunk as one unit (``write_many``) without waiting for the one before;
    ``await between(i, writer)`` runs before chunk ``i`` is handed over."""
    async with Writer(db) as w:
        await w.write([CommandRequested(command_id="c1", name="import")], "c1")
        await w.flush()
        for i, chunk in enumerate(chunks):
            if between is not None:
                await between(i, w)
            await w.write_many(chunk)
        await w.flush()


def _life_of_dvds(count: int) -> list[Entries]:
    """Chunks over the same DVDs: added; other DVDs added (the first ones' rows are no longer
    carried); their certificate set blind (normalize); then their rows read back and the
    certificate set to what it was first (a refresh): a row read before the blind change is in
    SQL would see nothing to write."""
    return [[_item(DvdAdded(dvd_id=0, title=f"Film {n}", uk_certification="12A"), n) for n in range(count)],
            [_item(DvdAdded(dvd_id=0, title=f"Other {n}"), n) for n in range(count)],
            [_item(DvdUkCertificationNormalized(dvd_id=n + 1, uk_certification="12a"), n) for n in range(count)],
            [_item(DvdDetailsRefreshed(dvd_id=n + 1, director=f"D{n}", uk_certification="12A"), n)
             for n in range(count)]]


async def test_batches_prepared_on_the_one_before_end_as_a_replay_would(tmp_path: Path, slow_sql: list[str]) -> None:
    """Rows written, set blind and read back in consecutive batches, each prepared while the
    one before was in SQL: the tables equal a fresh replay's, the chain is whole."""
    with Database(tmp_path / "tracker.db") as db:
        await _record_in_chunks(db, _life_of_dvds(20))
        assert audit.verify(db) == []
        rows = db.conn.execute("SELECT id, uk_certification, director FROM dvds WHERE id <= 20 ORDER BY id")
        assert rows.fetchall() == [(n + 1, "12A", f"D{n}") for n in range(20)]
        command = db.conn.execute("SELECT processed, updated FROM commands").fetchone()
        assert command == (80, 80)
    assert set(slow_sql) == {"tracker-apply_0"}


async def test_another_writer_between_batches_has_the_next_recorded_from_sql(
        tmp_path: Path, slow_sql: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A DVD added by another connection after a batch: the next one, prepared on what that
    batch left, is recorded the plain way (from SQL), so ids, seqs and counts follow the other's."""
    plain: list[int] = []
    apply = pipeline.Pipeline.apply

    def counting(self: pipeline.Pipeline, prepared: pipeline.Prepared, record_plain) -> None:
        apply(self, prepared, lambda entries: (plain.append(len(entries)), record_plain(entries)))
    monkeypatch.setattr(pipeline.Pipeline, "apply", counting)
    path = tmp_path / "tracker.db"
    sizes = (5, 4, 3, 2)  # told apart by their sizes
    chunks = [[_item(DvdAdded(dvd_id=0, title=f"Film {c}.{n}"), n) for n in range(size)]
              for c, size in enumerate(sizes)]

    async def other(i: int, w: Writer) -> None:
        if i == 2:
            await w.flush()  # the batch before is in SQL; the pipeline carries what it left
            with Database(path) as elsewhere:
                elsewhere.record([DvdAdded(dvd_id=0, title="Elsewhere")])

    with Database(path) as db:
        await _record_in_chunks(db, chunks, other)
        assert audit.verify(db) == []
        titles = [t for (t,) in db.conn.execute("SELECT title FROM dvds ORDER BY id")]
        ids = [i for (i,) in db.conn.execute("SELECT id FROM dvds ORDER BY id")]
    assert sorted(titles) == sorted([f"Film {c}.{n}" for c, size in enumerate(sizes) for n in range(size)]
                                    + ["Elsewhere"])
    assert ids == list(range(1, len(titles) + 1))
    assert plain[0] == sizes[2]  # the first batch after the other's commit, from SQL


async def test_a_value_sqlite_refuses_fails_its_item_and_the_next_batch_follows_sql(
        tmp_path: Path, slow_sql: list[str]) -> None:
    """An item whose event cannot be stored fails alone; the batch prepared behind it (on a
    state where that item was recorded) is recorded from SQL: every count and row right."""
    chunks = [[_item(DvdAdded(dvd_id=0, title=f"Film {n}"), n) for n in range(3)],
              [_item(DvdAdded(dvd_id=0, title="Too big", tmdb_id=2**70), 3)],
              [_item(DvdAdded(dvd_id=0, title=f"Film {n}"), n) for n in range(4, 7)]]
    with Database(tmp_path / "tracker.db") as db:
        await _record_in_chunks(db, chunks)
        assert audit.verify(db) == []
        titles = [t for (t,) in db.conn.execute("SELECT title FROM dvds ORDER BY id")]
        failed = db.conn.execute("SELECT item FROM command_items WHERE outcome = 'failed'").fetchall()
        command = db.conn.execute("SELECT processed, updated, failed FROM commands").fetchone()
    assert titles == ["Film 0", "Film 1", "Film 2", "Film 4", "Film 5", "Film 6"]
    assert failed == [("i3",)]
    assert command == (7, 6, 1)


async def test_a_commit_by_another_connection_has_the_next_batch_read_sql_again(
        tmp_path: Path, slow_sql: list[str]) -> None:
    """A read table changed by another connection without an event (as a replay or a restore
    could): the next batch does not write over it from the rows it carried."""
    path = tmp_path / "tracker.db"

    async def other(i: int, w: Writer) -> None:
        if i == 2:
            await w.flush()
            with Database(path) as elsewhere, elsewhere.atomic() as conn:
                conn.execute("UPDATE commands SET processed = processed + 100")

    chunks = [[_item(DvdAdded(dvd_id=0, title=f"Film {c}.{n}"), n) for n in range(3)] for c in range(4)]
    with Database(path) as db:
        await _record_in_chunks(db, chunks, other)
        processed = db.conn.execute("SELECT processed FROM commands").fetchone()[0]
    assert processed == 12 + 100
