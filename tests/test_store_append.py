"""Appending: times never go backwards (a moment is found by seq), types listed apart, background checkpoints."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from events.connection import WAL_AUTOCHECKPOINT_PAGES
from events.errors import StoreError
from events.store import EventStore, NewRecord, at_text, open_store
from events.types import DvdAdded, DvdRemoved
from events.wal_checkpoints import WalCheckpointer
from tests.offline_support import raw_conn
from tracker.db import Database

JAN, FEB, MAR = "2026-01-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z", "2026-03-01T00:00:00.000000Z"


def _rec(type_: str = "DvdAdded", n: int = 1) -> NewRecord:
    return NewRecord(type_, f'{{"type":"{type_}","dvd_id":{n}}}'.encode(), "c1", f"dvd:{n}")


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    """A store on a fresh file, closed after the test."""
    s = open_store(tmp_path / "tracker.db")
    yield s
    s.conn.close()


def _names(path: Path) -> set[str]:
    conn = raw_conn(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def _old_file(path: Path) -> None:
    """A database as the previous version left it: type and time indexes, no event_types."""
    with Database(path) as db:
        db.record([DvdAdded(dvd_id=0, title="Heat")], "c1")
        db.record([DvdAdded(dvd_id=0, title="Alien"), DvdRemoved(dvd_id=1)], "c2")
    conn = raw_conn(path)
    conn.execute("DROP TABLE event_types")
    conn.execute("CREATE INDEX events_at ON events(at)")
    conn.execute("CREATE INDEX events_type ON events(type)")
    conn.close()


def test_at_never_goes_backwards_when_the_clock_does(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock stepped back (or an older ``at`` given) stamps the newest row's time, not an earlier one."""
    monkeypatch.setattr("events.store.utc_now", lambda: FEB)
    store.append([_rec()])
    monkeypatch.setattr("events.store.utc_now", lambda: JAN)
    placed = store.append([_rec(n=2), _rec(n=3)])
    assert placed == [(2, FEB), (3, FEB)]
    assert store.append([_rec(n=4)], at=JAN) == [(4, FEB)]
    monkeypatch.setattr("events.store.utc_now", lambda: MAR)
    store.append([_rec(n=5)])
    assert [r.at for r in store.read()] == [FEB, FEB, FEB, FEB, MAR]
    assert store.verify_chain() == []


@pytest.mark.parametrize("ns", [0, 1_764_254_405_000_000_000, 1_764_254_405_999_999_999,
                                1_764_254_405_123_456_789, 1_764_254_406_000_001_000, 4_102_444_799_999_999_000])
def test_at_text_is_the_column_format(ns: int) -> None:
    """The fast ``at`` formatting (a second's text reused) writes what datetime's strftime writes."""
    at_text(ns - 1_000_000_000)  # another second cached first
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert at_text(ns) == at_text(ns) == expected


def test_seq_at_finds_the_newest_row_at_or_before_a_moment(store: EventStore) -> None:
    """seq_at and the time filters of read agree with a plain comparison of every row's time."""
    moments = [f"2026-01-{day:02d}T00:00:00.000000Z" for day in (2, 2, 3, 5, 5, 5, 9)]
    for n, at in enumerate(moments, 1):
        store.append([_rec(n=n)], at=at)
    for day in range(1, 11):
        probe = f"2026-01-{day:02d}T00:00:00.000000Z"
        expected = max((n for n, at in enumerate(moments, 1) if at <= probe), default=0)
        assert store.seq_at(probe) == expected, probe
        assert [r.seq for r in store.read(until_at=probe)] == list(range(1, expected + 1))
        assert [r.seq for r in store.read(since_at=probe)] == [n for n, at in enumerate(moments, 1) if at >= probe]
    assert store.seq_at("2025-12-31T00:00:00.000000Z") == 0


def test_types_are_listed_once_each_and_survive_rollbacks(store: EventStore) -> None:
    """A type appended in a rolled-back transaction or savepoint is listed only once it is really appended."""
    store.append([_rec("DvdAdded")])
    with store.rolled_back():
        store.append([_rec("DvdRemoved")])
        assert store.types() == ["DvdAdded", "DvdRemoved"]
    assert store.types() == ["DvdAdded"]
    with store.atomic():
        with pytest.raises(RuntimeError), store.atomic():
            store.append([_rec("DvdEdited")])
            raise RuntimeError("inner")
        store.append([_rec("DvdEdited"), _rec("DvdAdded")])
    other = EventStore(raw_conn(Path(store.conn.execute("PRAGMA database_list").fetchone()[2])))
    other.append([_rec("DvdPosterSaved")])  # another connection: this one's cache knows nothing of it
    store.append([_rec("DvdPosterSaved"), _rec("DvdRemoved")])
    assert store.types() == ["DvdAdded", "DvdEdited", "DvdPosterSaved", "DvdRemoved"]
    assert other.types() == store.types()
    other.conn.close()


def test_an_old_database_is_migrated_on_open(tmp_path: Path) -> None:
    """The old time and type indexes are dropped, event_types filled; types, times and the chain hold."""
    path = tmp_path / "tracker.db"
    _old_file(path)
    with Database(path) as db:
        assert db.store.types() == ["DvdAdded", "DvdRemoved"]
        ats = [r.at for r in db.store.read()]
        assert db.store.seq_at(ats[0]) == (2 if ats[1] == ats[0] else 1)
        assert db.store.seq_at(ats[-1]) == 3
        db.record([DvdAdded(dvd_id=0, title="Ran")], "c3")
        assert db.store.verify_chain() == []
        assert db.store.count() == 4
        assert db.conn.execute("SELECT title FROM dvds WHERE id = 3").fetchone() == ("Ran",)
    names = _names(path)
    assert "event_types" in names and not names & {"events_at", "events_type"}


def test_an_old_database_opened_read_only_is_read_and_left_untouched(tmp_path: Path) -> None:
    """A read-only open of an old file answers types() and seq_at() from the old index, writing nothing."""
    path = tmp_path / "tracker.db"
    _old_file(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with Database(path, read_only=True) as db:
        assert db.store.types() == ["DvdAdded", "DvdRemoved"]
        last_at = [r.at for r in db.store.read()][-1]
        assert db.store.seq_at(last_at) == 3
        assert db.store.verify_chain() == []
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert {"events_at", "events_type"} <= _names(path) and "event_types" not in _names(path)


def test_the_log_is_copied_into_the_file_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the writer's own checkpoints off, appended rows still reach the file; close ends the thread."""
    monkeypatch.setattr("events.store.CHECKPOINT_EVERY_ROWS", 1000)
    path = tmp_path / "tracker.db"
    store = open_store(path)
    store.conn.execute("PRAGMA wal_autocheckpoint = 0")
    empty_size = path.stat().st_size
    for start in range(0, 3000, 500):
        store.append([NewRecord("DvdAdded", '{"title":"%s"}' % ("x" * 300), "c1", f"dvd:{n}")
                      for n in range(start, start + 500)])
    deadline = time.monotonic() + 10
    while path.stat().st_size < empty_size + 900_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= empty_size + 900_000  # 3000 rows of ~400 bytes, copied from the log
    store.close()
    assert not any(t.name == "wal-checkpoint" for t in threading.enumerate())
    assert not path.with_name("tracker.db-wal").exists()  # the last connection folded the log back
    reopened = open_store(path)
    assert reopened.count() == 3000 and reopened.verify_chain() == []
    reopened.close()


def test_a_failed_insert_leaves_none_of_its_rows_to_the_savepoint_around_it(store: EventStore) -> None:
    """An INSERT that fails on its third row keeps none of its rows once its savepoint is rolled
    back (an ABORT undid them itself; OR FAIL leaves it to the savepoint); what came before in
    the transaction stays."""
    with store.atomic():
        store.append([_rec(n=1), _rec(n=2)])
        with pytest.raises(StoreError, match="NOT NULL"), store.atomic():
            store.append([_rec(n=3), _rec(n=4), NewRecord(None, b"{}", "c1", "dvd:5"), _rec(n=6)])  # type: ignore[arg-type]
    assert [r.seq for r in store.read()] == [1, 2]
    assert store.verify_chain() == []
    assert [seq for seq, _hash in store.append([_rec(n=3)])] == [3]


def test_a_replay_leaves_copying_the_log_into_the_file_to_the_background(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay's COMMIT does not copy the rewritten tables from the log into the file itself,
    even past SQLite's own threshold: the background checkpointer is asked to, and SQLite's own
    checkpoint is back on after (a replay of a million events spent 0.25 s of 5 there)."""
    path = tmp_path / "tracker.db"
    with Database(path) as db:
        for n in range(200):
            db.record([DvdAdded(dvd_id=0, title=f"Film {n}" + "x" * 200)], f"c{n}")
    nudged: list[str] = []
    monkeypatch.setattr(WalCheckpointer, "nudge", lambda self: nudged.append("nudged"))
    db = Database(path)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    db.conn.execute("PRAGMA wal_autocheckpoint = 1")  # any other commit would copy the log into the file
    assert db.replay() == 200
    assert path.read_bytes() == before and nudged == ["nudged"]
    assert db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES
    titles = [r[0] for r in db.conn.execute("SELECT title FROM dvds ORDER BY id")]
    db.close()
    with Database(path) as reopened:
        assert [r[0] for r in reopened.conn.execute("SELECT title FROM dvds ORDER BY id")] == titles
    assert len(titles) == 200


def test_freed_pages_are_not_zeroed(store: EventStore) -> None:
    """Debian's SQLite zeroes every freed page; the read tables hold nothing the log does not, so
    a replay's DROP need not write them all again."""
    assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 0


_APPENDER = """
import sys
import events.store as st
st.CHECKPOINT_EVERY_ROWS = 200
store = st.open_store(sys.argv[1])
while True:
    placed = store.append([st.NewRecord("DvdAdded", '{"title":"%s"}' % ("y" * 200), "c1", "dvd:1")] * 100)
    print(placed[-1][0], flush=True)
"""


def test_kill_9_mid_append_loses_nothing_committed(tmp_path: Path) -> None:
    """A writer killed while appending (background checkpoints under way) keeps every committed row."""
    path = tmp_path / "tracker.db"
    proc = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path)], stdout=subprocess.PIPE, text=True)
    committed = 0
    while committed < 20_000:
        committed = int(proc.stdout.readline())
    proc.kill()
    rest = proc.stdout.read().split()
    proc.wait()
    committed = int(rest[-1]) if rest else committed
    store = open_store(path)
    assert store.count() >= committed and store.verify_chain() == []
    store.close()
