"""The append-only SQLite event log: triggers, gapless seq, the hash chain, locks, foreign files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from events import reading
from events.store import GENESIS_HASH, EventStore, NewRecord, chain_hash, connect, open_store
from tests.offline_support import Cli, error_line, raw_conn
from tracker.errors import NotATrackerDatabase, StoreError

TRACKER = str(Path(sys.executable).with_name("tracker"))


def _rec(n: int, command_id: str | None = "c1") -> NewRecord:
    return NewRecord("DvdAdded", f'{{"type":"DvdAdded","dvd_id":{n},"title":"t{n}"}}'.encode(),
                     command_id, f"dvd:{n}")


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    """A store on a fresh file, closed after the test."""
    s = open_store(tmp_path / "tracker.db")
    yield s
    s.conn.close()


def test_rows_cannot_be_updated_or_deleted(store: EventStore) -> None:
    """Rows cannot be updated or deleted."""
    store.append([_rec(1), _rec(2)])
    with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE refused"):
        store.conn.execute("UPDATE events SET data = '{}' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only: DELETE refused"):
        store.conn.execute("DELETE FROM events WHERE seq = 2")
    # A raw connection (as sqlite3 on the command line) is refused too: the triggers live in the file.
    other = raw_conn(Path(store.conn.execute("PRAGMA database_list").fetchone()[2]))
    with pytest.raises(sqlite3.IntegrityError):
        other.execute("DELETE FROM events")
    other.close()
    assert store.count() == 2


def test_seq_is_gapless_across_batches_rollbacks_and_savepoints(store: EventStore) -> None:
    """Seq is gapless across batches rollbacks and savepoints."""
    store.append([_rec(1), _rec(2)])
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.append([_rec(3)])
            raise RuntimeError("abandon")
    with store.atomic():
        store.append([_rec(4)])
        with pytest.raises(RuntimeError):
            with store.atomic():  # a savepoint: its rows go, the outer transaction's stay
                store.append([_rec(5), _rec(6)])
                raise RuntimeError("inner")
        store.append([_rec(7)])
    with store.rolled_back():
        store.append([_rec(8)])
        assert store.count() == 5
    placed = store.append([_rec(9)])
    seqs = [r[0] for r in store.conn.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == [1, 2, 3, 4, 5]
    assert placed[0][0] == 5
    titles = [r.data for r in store.read()]
    assert all(isinstance(t, str) for t in titles)
    assert [t.split('"title":"')[1][:2] for t in titles] == ["t1", "t2", "t4", "t7", "t9"]
    assert store.verify_chain() == []


def test_hash_chain_links_every_column(store: EventStore) -> None:
    """Hash chain links every column."""
    store.append([_rec(1), _rec(2, None)])
    rows = store.conn.execute("SELECT seq, type, at, command_id, subject, v, data, hash FROM events").fetchall()
    prev = GENESIS_HASH
    for seq, type_, at, command_id, subject, v, data, stored in rows:
        prev = chain_hash(prev, seq, type_, at, command_id, subject, v, data)
        assert stored == prev


def test_long_mixed_appends_store_every_column_as_given_and_chained(store: EventStore) -> None:
    """Runs of many rows (past one INSERT's size, odd lengths, commands and versions changing
    between them, bytes and text data) are stored column for column as given, in one chain."""
    runs = [("c1", 1, 300), (None, 1, 1), ("c2", 2, 257), ("c2", 1, 42), ("c1", 1, 5)]
    records = [NewRecord("DvdAdded", f'{{"n":{i}}}' if i % 2 else f'{{"n":{i}}}'.encode(),
                         command_id, f"dvd:{i}" if i % 3 else None, v)
               for command_id, v, length in runs for i in range(length)]
    placed = store.append(records)
    more = store.append_of("c3", [("DvdRemoved", b'{"m":%d}' % i, f"dvd:{i}") for i in range(519)], v=3)
    assert [seq for seq, _ in placed + more] == list(range(1, 1 + len(records) + 519))
    rows = store.conn.execute("SELECT seq, type, at, command_id, subject, v, data, hash FROM events").fetchall()
    given = [(r.type, r.data if isinstance(r.data, str) else r.data.decode(), r.command_id, r.subject, r.v)
             for r in records] + [("DvdRemoved", f'{{"m":{i}}}', "c3", f"dvd:{i}", 3) for i in range(519)]
    assert [(t, d, c, s, v) for _, t, _, c, s, v, d, _ in rows] == given
    assert {at for *_, at in placed} == {rows[0][2]}  # one append, one moment
    prev = GENESIS_HASH
    for seq, type_, at, command_id, subject, v, data, stored in rows:
        prev = chain_hash(prev, seq, type_, at, command_id, subject, v, data)
        assert stored == prev
    assert store.verify_chain() == []


@pytest.mark.parametrize("column, value", [
    ("data", '{"type":"DvdAdded","dvd_id":1,"title":"forged"}'), ("type", "DvdPosterSaved"),
    ("at", "2020-01-01T00:00:00.000000Z"), ("command_id", "someone-else"), ("subject", "dvd:99"),
    ("v", 0)])
def test_tampering_any_column_breaks_the_chain(store: EventStore, column: str, value: object) -> None:
    """Tampering any column breaks the chain."""
    store.append([_rec(1)])
    store.append([_rec(2), _rec(3)])
    store.conn.execute("DROP TRIGGER events_no_update")
    store.conn.execute(f"UPDATE events SET {column} = ? WHERE seq = 2", (value,))
    problems = store.verify_chain()
    assert any(p.startswith("seq 2: hash does not match") for p in problems), problems
    assert not any(p.startswith("seq 3") and "hash" in p for p in problems)


def test_deleted_row_is_a_gap_and_a_broken_link(store: EventStore) -> None:
    """Deleted row is a gap and a broken link."""
    store.append([_rec(1), _rec(2), _rec(3)])
    store.conn.execute("DROP TRIGGER events_no_delete")
    store.conn.execute("DELETE FROM events WHERE seq = 2")
    assert store.verify_chain() == ["seq 2..2: missing rows",
                                    "seq 3: hash does not match its content and predecessor"]


def test_read_streams_in_batches_with_filters(store: EventStore) -> None:
    """Read streams in batches with filters."""
    store.append([_rec(i) for i in range(1, 8)], at="2026-01-01T00:00:00.000000Z")
    store.append([_rec(i, "c2") for i in range(8, 11)], at="2026-02-01T00:00:00.000000Z")
    assert [r.seq for r in store.read(batch=3)] == list(range(1, 11))
    assert [r.seq for r in store.read(after_seq=4, until_seq=8, batch=2)] == [5, 6, 7, 8]
    assert [r.seq for r in store.read(until_at="2026-01-15T00:00:00.000000Z", batch=3)] == list(range(1, 8))
    assert [r.seq for r in store.read(where="command_id = ?", params=("c2",), batch=2)] == [8, 9, 10]
    reader = store.read(batch=3)
    next(reader)
    # Only one batch is fetched at a time: a row appended meanwhile is seen by the same reader.
    store.append([_rec(11)])
    assert [r.seq for r in reader][-1] == 11
    assert store.types() == ["DvdAdded"]


def test_fold_rows_carry_what_a_fold_needs_in_order(store: EventStore) -> None:
    """fold_rows gives (seq, at, command_id, data, v) of the range and types asked for, in seq order."""
    store.append([_rec(i) for i in range(1, 4)], at="2026-01-01T00:00:00.000000Z")
    store.append([_rec(4, None)], at="2026-02-01T00:00:00.000000Z")
    rows = store.fold_rows(after_seq=1).fetchall()
    assert [(seq, at, cid, v) for seq, at, cid, _data, v in rows] == [
        (2, "2026-01-01T00:00:00.000000Z", "c1", 1), (3, "2026-01-01T00:00:00.000000Z", "c1", 1),
        (4, "2026-02-01T00:00:00.000000Z", None, 1)]
    assert rows[0][3] == '{"type":"DvdAdded","dvd_id":2,"title":"t2"}'
    assert [r[0] for r in store.fold_rows(after_seq=1, until_seq=3)] == [2, 3]
    assert [r[0] for r in store.fold_rows(until_seq=3, types=["DvdAdded"])] == [1, 2, 3]
    assert store.fold_rows(types=["DvdRemoved", "DvdEdited"]).fetchall() == []


def test_fold_chunks_hold_the_rows_fold_rows_gives(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """fold_chunks joins each span's columns (NULL command ids as empty strings, data as one
    JSON array) and gives the very rows fold_rows does, span by span, types filtered."""
    monkeypatch.setattr(reading, "FOLD_CHUNK_SEQS", 3)
    store.append([_rec(1), _rec(2, None), _rec(3, "a,b")], at="2026-01-01T00:00:00.000000Z")
    store.append([NewRecord("DvdRemoved", b'{"type":"DvdRemoved","dvd_id":1}', "c2", "dvd:1"), _rec(5, "")],
                 at="2026-02-01T00:00:00.000000Z")
    chunks = list(store.fold_chunks(after_seq=1))
    assert [(c.after_seq, c.until_seq, c.count) for c in chunks] == [(1, 4, 3), (4, 5, 1)]
    first = chunks[0]
    assert (first.seqs, first.command_ids, first.with_command_id) == ("2,3,4", ",a,b,c2", 2)
    assert (first.v_min, first.v_max) == (1, 1)
    assert first.ats == "2026-01-01T00:00:00.000000Z,2026-01-01T00:00:00.000000Z,2026-02-01T00:00:00.000000Z"
    assert first.data == ('[{"type":"DvdAdded","dvd_id":2,"title":"t2"},{"type":"DvdAdded","dvd_id":3,"title":"t3"},'
                          '{"type":"DvdRemoved","dvd_id":1}]')
    only_added = list(store.fold_chunks(until_seq=4, types=["DvdAdded"]))
    assert [(c.count, c.seqs) for c in only_added] == [(3, "1,2,3"), (0, None)]
    assert list(store.fold_chunks(after_seq=5)) == []


def test_the_type_filter_is_the_shortest_that_keeps_the_same_rows(store: EventStore) -> None:
    """Given the types in the log, fold_chunks filters by those of them asked for, or excludes
    the others when fewer, or not at all, and reads nothing when none is in the log."""
    assert reading.type_filter(["A", "B"]) == (" AND +type IN (?, ?)", ("A", "B"))
    assert reading.type_filter(["A", "B", "C"], ["B", "C", "D"]) == (" AND type <> ?", ("D",))
    assert reading.type_filter(["A", "B"], ["B", "D", "E"]) == (" AND +type IN (?)", ("B",))
    assert reading.type_filter(["A", "B"], ["A", "B"]) == ("", ())
    assert reading.type_filter(["A"], ["B"]) == (None, ())
    store.append([_rec(1), NewRecord("DvdRemoved", b'{"type":"DvdRemoved","dvd_id":1}', "c1", "dvd:1"), _rec(3)])
    counts = {tuple(types): [c.count for c in store.fold_chunks(types=types)]
              for types in (["DvdAdded"], ["DvdRemoved", "DvdEdited"], ["DvdAdded", "DvdRemoved"], ["DvdEdited"])}
    assert counts == {("DvdAdded",): [2], ("DvdRemoved", "DvdEdited"): [1], ("DvdAdded", "DvdRemoved"): [3],
                      ("DvdEdited",): []}


def test_connection_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    """Connection uses wal and a busy timeout."""
    conn = connect(tmp_path / "x.db", busy_timeout_s=7)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7000
    conn.close()


def test_random_bytes_are_refused_and_left_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Random bytes are refused and left untouched."""
    db = tmp_path / "tracker.db"
    content = os.urandom(8192)
    db.write_bytes(content)
    cli = Cli(tmp_path, capsys)
    for args in (("history",), ("add", "Heat"), ("export", "dvds"), ("verify",), ("status",)):
        rc, out, err = cli(*args)
        assert rc == 2 and out == ""
        assert error_line(err) == (f"tracker {args[0]}: error: {db}: not a tracker database "
                                   "(file is not a database)")
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracker.db"]


def test_foreign_sqlite_database_is_refused_and_left_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Foreign sqlite database is refused and left untouched."""
    db = tmp_path / "tracker.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    content = db.read_bytes()
    cli = Cli(tmp_path, capsys)
    for args in (("history",), ("add", "Heat"), ("import", str(tmp_path / "none.csv")), ("replay",)):
        rc, out, err = cli(*args)
        assert rc == 2 and out == ""
        line = error_line(err)
        assert line.startswith(f"tracker {args[0]}: error: ")
        if args[0] != "import":  # import refuses the missing file first
            assert line.endswith("not a tracker database (a SQLite file of another application)")
    assert db.read_bytes() == content
    with pytest.raises(NotATrackerDatabase):
        open_store(db)


def test_a_folder_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder is not a database."""
    (tmp_path / "tracker.db").mkdir()
    rc, _, err = Cli(tmp_path, capsys)("history")
    assert rc == 2 and error_line(err).endswith("is a folder, not a tracker database")


def test_open_store_without_create_needs_a_file(tmp_path: Path) -> None:
    """Open store without create needs a file."""
    with pytest.raises(StoreError, match="no tracker database here"):
        open_store(tmp_path / "missing.db", create=False)


_HOLD_LOCK = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
""")


def _hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(db), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _tracker(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRACKER_HOME": str(home)}
    return subprocess.run([TRACKER, *args], capture_output=True, text=True, env=env, timeout=60)


def test_writer_waits_for_another_process_lock_then_succeeds(tmp_path: Path) -> None:
    """Writer waits for another process lock then succeeds."""
    assert _tracker(tmp_path, "add", "Alien").returncode == 0
    holder = _hold_write_lock(tmp_path / "tracker.db", 1.5)
    started = time.monotonic()
    done = _tracker(tmp_path, "add", "Heat", "--json")
    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    assert '"updated":1' in done.stdout
    assert waited >= 1.0  # it waited for the lock rather than failing
    listed = _tracker(tmp_path, "export", "dvds", "--format", "jsonl")
    assert [line.split('"title":"')[1].split('"')[0] for line in listed.stdout.splitlines()] == ["Alien", "Heat"]


def test_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """Readers do not wait for a writer."""
    assert _tracker(tmp_path, "add", "Alien").returncode == 0
    holder = _hold_write_lock(tmp_path / "tracker.db", 4)
    try:
        started = time.monotonic()
        for args in (("status",), ("export", "dvds"), ("history",), ("verify",)):
            result = _tracker(tmp_path, *args)
            assert result.returncode == 0, (args, result.stderr)
        assert time.monotonic() - started < 3.5  # WAL: readers see the last commit at once
    finally:
        holder.wait(timeout=10)


def test_data_is_json_text_that_sqlite3_alone_can_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Data is json text that sqlite3 alone can audit."""
    cli = Cli(tmp_path, capsys)
    cli.ok("add", "Alien", "--year", "1979")
    conn = raw_conn(cli.db)
    assert conn.execute("SELECT DISTINCT typeof(data) FROM events").fetchall() == [("text",)]
    assert conn.execute("SELECT json_extract(data, '$.title'), at FROM events WHERE type = 'DvdAdded'"
                        ).fetchone()[0] == "Alien"
    ats = [r[0] for r in conn.execute("SELECT at FROM events ORDER BY seq")]
    assert ats == sorted(ats) and all(a.endswith("Z") and "T" in a for a in ats)
    conn.close()


def test_a_writer_waits_behind_another_process_lock_and_says_so(tmp_path: Path, capsys) -> None:
    """A write behind a lock held longer than the busy timeout waits, says so, then records."""
    import threading

    from events.types import DvdAdded
    from tracker.db import Database

    path = tmp_path / "tracker.db"
    Database(path).close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a live replay holds the write lock like this
    threading.Timer(1.2, holder.execute, ("COMMIT",)).start()
    with Database(path, busy_timeout_s=0.3) as db:
        db.record([DvdAdded(dvd_id=0, title="Patient")])
        assert db.conn.execute("SELECT title FROM dvds").fetchall() == [("Patient",)]
    holder.close()
    assert "waiting for another tracker process that is writing" in capsys.readouterr().err


def test_audit_reads_use_the_subject_and_command_indexes(store: EventStore) -> None:
    """history --dvd and --command read through their indexes, in seq order, never a scan of the log."""
    store.append([NewRecord("DvdAdded", "{}", f"c{n % 7}", f"dvd:{n}") for n in range(500)])
    assert store.read_plan(subject="dvd:12") == ["SEARCH events USING INDEX events_subject (subject=? AND rowid>?)"]
    assert store.read_plan(command_id="c3") == ["SEARCH events USING INDEX events_command (command_id=? AND rowid>?)"]
    assert store.read_plan(until_seq=40) == ["SEARCH events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"]
    assert [r.seq for r in store.read(subject="dvd:12")] == [13]
