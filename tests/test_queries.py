"""The named queries beside the projections: what the engine, the CLI and the commands read."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from events import types as et
from projections import commands as command_table
from projections import dvds
from projections.catalogue import posters_in_use
from projections.commands import ItemOutcome, Status
from tracker.db import Database
from tracker.engine.submit import enqueue


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh tracker database in a real file."""
    with Database(tmp_path / "tracker.db") as database:
        yield database


def request(db: Database, command_id: str, name: str = "match-tmdb-ids", **options: object) -> None:
    """Record a queued command."""
    db.record([et.CommandRequested(command_id=command_id, name=name, options=dict(options))], command_id)


def test_next_runnable_resumes_running_before_queued_then_oldest_first(db: Database) -> None:
    """A running (interrupted) command comes before older queued ones; queued ones go oldest first."""
    assert command_table.next_runnable(db.conn) is None
    for cid in ("a", "b", "c"):
        request(db, cid, limit=1)
    assert command_table.next_runnable(db.conn).command_id == "a"
    db.record([et.CommandStarted(command_id="c", total=3)], "c")
    runnable = command_table.next_runnable(db.conn)
    assert (runnable.command_id, runnable.name, runnable.options) == ("c", "match-tmdb-ids", {"limit": 1})
    assert runnable.cancel_requested is False
    db.record([et.CommandCompleted(command_id="c")], "c")
    db.record([et.CommandCancelRequested(command_id="a"), et.CommandCancelled(command_id="a")], "a")
    assert command_table.next_runnable(db.conn).command_id == "b"
    db.record([et.CommandCancelRequested(command_id="b")], "b")
    assert command_table.next_runnable(db.conn).cancel_requested is True


def test_equal_active_matches_name_and_options_in_any_key_order(db: Database) -> None:
    """An equal command is one queued or running with the same name and options, key order aside."""
    request(db, "a", "populate-db", media_type="movie", pages=2)
    assert command_table.equal_active(db.conn, "populate-db", {"pages": 2, "media_type": "movie"}) == "a"
    assert command_table.equal_active(db.conn, "populate-db", {"pages": 3, "media_type": "movie"}) is None
    assert command_table.equal_active(db.conn, "update-details", {"pages": 2, "media_type": "movie"}) is None
    db.record([et.CommandStarted(command_id="a", total=2)], "a")
    assert command_table.equal_active(db.conn, "populate-db", {"media_type": "movie", "pages": 2}) == "a"
    db.record([et.CommandCompleted(command_id="a")], "a")
    assert command_table.equal_active(db.conn, "populate-db", {"media_type": "movie", "pages": 2}) is None


def test_enqueue_returns_the_equal_command_instead_of_a_second_one(db: Database) -> None:
    """Queueing a command equal to a queued one gives back its id and appends nothing."""
    first, fresh = enqueue(db, "populate-db", {"pages": 2})
    head = db.store.count()
    again, fresh_again = enqueue(db, "populate-db", {"pages": 2})
    assert (fresh, again, fresh_again, db.store.count()) == (True, first, False, head)


def test_counts_notes_and_done_items_follow_item_outcomes(db: Database) -> None:
    """Counts, failures, reasoned skips and done items come from the recorded ItemProcessed events."""
    request(db, "a")
    db.record([et.CommandStarted(command_id="a", total=4),
               et.ItemProcessed(command_id="a", item="dvd:1", outcome=ItemOutcome.UPDATED),
               et.ItemProcessed(command_id="a", item="dvd:2", outcome=ItemOutcome.SKIPPED),
               et.ItemProcessed(command_id="a", item="dvd:3", outcome=ItemOutcome.SKIPPED, reason="dup"),
               et.ItemProcessed(command_id="a", item="dvd:4", outcome=ItemOutcome.FAILED, reason="404")], "a")
    assert command_table.counts(db.conn, "a") == command_table.Counts(4, 1, 2, 1)
    assert command_table.counts(db.conn, "nope") == command_table.Counts()
    assert command_table.failures(db.conn, "a") == [command_table.ItemNote("dvd:4", "404")]
    assert command_table.skips_with_reason(db.conn, "a") == [command_table.ItemNote("dvd:3", "dup")]
    assert command_table.done_items(db.conn, "a") == {"dvd:1", "dvd:2", "dvd:3", "dvd:4"}
    assert command_table.progress(db.conn, "a") == command_table.Progress(Status.RUNNING, 4, 4, 1)


def test_ending_and_status_rows(db: Database) -> None:
    """A finished command's ending carries its summary; status lists active ones, then recent ended."""
    for cid in ("a", "b", "c"):
        request(db, cid)
    db.record([et.CommandFailed(command_id="a", reason="key refused", summary={"processed": 0})], "a")
    end = command_table.ending(db.conn, "a")
    assert end == command_table.Ending(Status.FAILED, {"processed": 0}, "key refused")
    assert command_table.ending(db.conn, "b") == command_table.Ending(Status.QUEUED, None, None)
    assert command_table.ending(db.conn, "zz") is None
    assert [(r.command_id, r.status) for r in command_table.status_rows(db.conn)] == [
        ("b", Status.QUEUED), ("c", Status.QUEUED), ("a", Status.FAILED)]
    assert command_table.status_rows(db.conn, recent=0)[-1].command_id == "c"
    one = command_table.status_row(db.conn, "a")
    assert (one.status, one.reason, one.options) == (Status.FAILED, "key refused", {})
    assert command_table.status_row(db.conn, "zz") is None


def test_dvd_selections(db: Database) -> None:
    """Each DVD selection picks the DVDs its command works on, by id, cut to the limit; never removed ones."""
    db.record([et.DvdAdded(dvd_id=0, title="A", year=2000),
               et.DvdAdded(dvd_id=0, title="B", year=2001, tmdb_id=11),
               et.DvdAdded(dvd_id=0, title="C", year=2002, tmdb_id=12, imdb_id="tt0000012",
                           uk_certification="12A"),
               et.DvdAdded(dvd_id=0, title="D", year=2003, tmdb_id=13, imdb_id="tt0000013",
                           uk_certification="PG"),
               et.DvdAdded(dvd_id=0, title="E")])
    db.record([et.DvdRemoved(dvd_id=4), et.DvdRemoved(dvd_id=5)])
    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert ids(dvds.without_tmdb_id(db.conn)) == [1]
    assert ids(dvds.without_imdb_id(db.conn)) == [2]
    assert ids(dvds.with_tmdb_id(db.conn)) == [2, 3] and ids(dvds.with_tmdb_id(db.conn, limit=1)) == [2]
    assert ids(dvds.missing_details(db.conn)) == [2, 3]
    assert ids(dvds.with_imdb_id(db.conn)) == [3]
    assert dvds.uppercase_certifications(db.conn) == [("dvd:3", "12A")]
    assert dvds.holder_of_tmdb_id(db.conn, 12) == 3 and dvds.holder_of_tmdb_id(db.conn, 13) is None
    assert dvds.dvd_row(db.conn, 2)["title"] == "B" and dvds.dvd_row(db.conn, 9) is None
    held = dvds.held_keys(db.conn)
    assert (held.tmdb_ids, held.imdb_ids) == ({11, 12}, {"tt0000012"})
    assert ("a", 2000) in held.title_years
    assert dvds.counts(db.conn) == dvds.DvdCounts(3, 2, 1, 0, 0, 0)


def _plans(db: Database, query: Callable[[Any], object]) -> list[str]:
    """How SQLite runs the statements ``query`` sends (EXPLAIN QUERY PLAN's steps), in order."""
    conn = db.conn

    class Explaining:
        def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
            plans.extend(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            return conn.execute(sql, params)

    plans: list[str] = []
    query(Explaining())
    return plans


def test_dvd_and_poster_lookups_use_their_indexes(db: Database) -> None:
    """The partial IMDb and poster indexes still serve the queries that need them, and the TMDB
    id is found by its index: none of these reads the whole table."""
    db.record([et.DvdAdded(dvd_id=0, title=f"T{n}", tmdb_id=n, imdb_id=f"tt{n:07d}" if n % 3 else None)
               for n in range(1, 200)])
    assert _plans(db, lambda c: dvds.without_imdb_id(c, limit=5)) == ["SEARCH dvds USING INDEX dvds_imdb (imdb_id=?)"]
    assert _plans(db, lambda c: dvds.holder_of_tmdb_id(c, 7)) == ["SEARCH dvds USING INDEX dvds_tmdb (tmdb_id=?)"]
    assert [p for p in _plans(db, posters_in_use) if "SEARCH" in p or "SCAN" in p] == [
        f"SEARCH {t} USING COVERING INDEX {t}_poster (poster>?)" for t in ("dvds", "movies", "tv")]
    assert [r.id for r in dvds.without_imdb_id(db.conn, limit=2)] == [3, 6]
