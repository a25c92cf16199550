"""Projections: the folds, and replay giving exactly the tables incremental application gave."""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import reading
from events import types as et
from projections import HANDLERS, dvds, fold, rebuild, row_sql, scope, snapshot
from projections.rows import RowCache
from projections.tables import TABLES, create_tables
from tests.offline_support import Cli
from tracker import checkpoints
from tracker.audit import verify
from tracker.db import Database

SMALL = st.integers(min_value=1, max_value=5)
TEXT = st.text(alphabet="abcXYZ é1 ", max_size=6)
OPT_INT = st.none() | st.integers(min_value=1, max_value=3)
REGIONS = st.sampled_from(["GB", "US"])
OFFERS = st.sampled_from(["flatrate", "rent", "buy"])
MEDIA = st.sampled_from(["movie", "tv"])
GENRE_REFS = st.lists(st.builds(et.GenreRef, id=SMALL, name=TEXT), max_size=3)
TORRENTS = st.lists(st.builds(et.Torrent, quality=st.sampled_from(["720p", "1080p"]), type=TEXT,
                              seeds=st.integers(0, 9), peers=st.integers(0, 9),
                              size_bytes=st.integers(0, 2**40), hash=TEXT), max_size=2)
CMD = st.sampled_from(["c1", "c2"])
LOCKABLE_FIELDS = st.sampled_from(["tagline", "director", "uk_certification", "tmdb_id", "poster"])

EVENTS = st.one_of(
    st.builds(et.DvdAdded, dvd_id=st.just(0), title=TEXT.filter(str.strip), year=st.none() | st.integers(1900, 2030),
              tmdb_id=OPT_INT, imdb_id=st.none() | st.just("tt0000001"), uk_certification=st.none() | TEXT),
    st.builds(et.DvdTmdbIdMatched, dvd_id=SMALL, tmdb_id=SMALL),
    st.builds(et.DvdImdbIdPopulated, dvd_id=SMALL, imdb_id=st.sampled_from(["", "tt0137523"])),
    st.builds(et.DvdDetailsRefreshed, dvd_id=SMALL, tagline=TEXT, budget=st.integers(0, 10**9),
              production_companies=st.lists(TEXT, max_size=2), director=TEXT, uk_certification=TEXT,
              rating=st.floats(0, 10, allow_nan=False), vote_count=st.integers(0, 10**5),
              poster_path=TEXT, imdb_id=st.none() | st.just("tt7654321"),
              genres=st.lists(st.sampled_from(["Horror", "Drama", "Animation"]), max_size=2)),
    st.builds(et.DvdPosterSaved, dvd_id=SMALL, poster=TEXT.map(lambda t: f"media/posters/{t}.jpg")),
    st.builds(et.DvdUkCertificationNormalized, dvd_id=SMALL, uk_certification=TEXT),
    st.builds(et.DvdTorrentsChecked, dvd_id=SMALL, torrents=TORRENTS),
    st.builds(et.DvdEdited, dvd_id=SMALL, fields=st.dictionaries(
        st.sampled_from(["title", "director", "tagline", "uk_certification"]), TEXT, max_size=2)),
    st.builds(et.DvdFieldsLocked, dvd_id=SMALL, fields=st.lists(LOCKABLE_FIELDS, max_size=2)),
    st.builds(et.DvdFieldsUnlocked, dvd_id=SMALL, fields=st.lists(LOCKABLE_FIELDS, max_size=2)),
    st.builds(et.DvdIdentified, dvd_id=SMALL, tmdb_id=SMALL, previous_tmdb_id=OPT_INT),
    st.builds(et.DvdMerged, dvd_id=SMALL, merged_id=SMALL, fields=st.fixed_dictionaries({}, optional={
        "tagline": TEXT, "budget": st.integers(0, 99), "production_companies": st.lists(TEXT, max_size=2)})),
    st.builds(et.DvdRemoved, dvd_id=SMALL, merged_into=OPT_INT),
    st.builds(et.GenreNamed, tmdb_id=SMALL, name=TEXT, media_type=MEDIA),
    st.builds(et.MovieListed, tmdb_id=SMALL, title=TEXT, popularity=st.floats(0, 100, allow_nan=False),
              genre_ids=st.lists(st.integers(1, 8), max_size=3), poster_path=st.none() | TEXT),
    st.builds(et.TvShowListed, tmdb_id=SMALL, name=TEXT, genre_ids=st.lists(st.integers(1, 8), max_size=3)),
    st.builds(et.MovieDetailsRefreshed, tmdb_id=SMALL, runtime=st.integers(0, 200), genres=GENRE_REFS,
              director=TEXT),
    st.builds(et.TvDetailsRefreshed, tmdb_id=SMALL, number_of_seasons=st.integers(0, 9), genres=GENRE_REFS,
              creators=st.lists(TEXT, max_size=2)),
    st.builds(et.CataloguePosterSaved, media_type=MEDIA, tmdb_id=SMALL, poster=TEXT),
    st.builds(et.ProviderSeen, provider_id=SMALL, name=TEXT, logo_path=st.none() | TEXT),
    st.builds(et.ProviderLogoSaved, provider_id=SMALL, logo=TEXT),
    st.builds(et.OfferAdded, media_type=MEDIA, tmdb_id=SMALL, region=REGIONS, offer_type=OFFERS,
              provider_id=st.integers(1, 2)),
    st.builds(et.OfferRemoved, media_type=MEDIA, tmdb_id=SMALL, region=REGIONS, offer_type=OFFERS,
              provider_id=st.integers(1, 2)),
    st.builds(et.WatchProvidersChecked, media_type=MEDIA, tmdb_id=SMALL),
    st.builds(et.BadgeCreated, name=st.sampled_from(["A", "B", "C"]), description=TEXT,
              badge_type=st.sampled_from(["milestone", "genre"]), rarity=st.sampled_from(["gold", "bronze"]),
              icon=TEXT, requirement_count=SMALL, requirement_type=st.just("dvds_owned")),
    st.builds(et.CommandRequested, command_id=CMD, name=st.sampled_from(["add", "import"]),
              options=st.dictionaries(st.sampled_from(["limit", "x"]), SMALL, max_size=1)),
    st.builds(et.CommandStarted, command_id=CMD, total=OPT_INT),
    st.builds(et.ItemProcessed, command_id=CMD, item=st.sampled_from(["dvd:1", "dvd:2", "line:3"]),
              outcome=st.sampled_from(["updated", "skipped", "failed"]), reason=TEXT),
    st.builds(et.CommandCancelRequested, command_id=CMD),
    st.builds(et.CommandCompleted, command_id=CMD, summary=st.dictionaries(st.just("processed"), SMALL)),
    st.builds(et.CommandFailed, command_id=CMD, reason=TEXT),
    st.builds(et.CommandCancelled, command_id=CMD),
)
BATCHES = st.lists(st.tuples(st.none() | CMD, st.lists(EVENTS, min_size=1, max_size=6)), min_size=1, max_size=10)


def tables(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every row of every read table, in key order."""
    return {name: conn.execute(f"SELECT {', '.join(t.columns)} FROM {name} ORDER BY {', '.join(t.key)}").fetchall()
            for name, t in TABLES.items()}


def replayed(db: Database, **kwargs: Any) -> dict[str, list[tuple]]:
    """The tables a fresh replay into memory gives."""
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.replay(target=fresh, **kwargs)
        return tables(fresh)
    finally:
        fresh.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=BATCHES, cut=st.integers(min_value=0, max_value=10))
def test_replay_equals_incremental_application(tmp_path_factory: pytest.TempPathFactory,
                                               batches: list[tuple[str | None, list[et.Event]]], cut: int) -> None:
    """Replay, from nothing or from a checkpoint taken part way, equals incremental application."""
    path = tmp_path_factory.mktemp("prop") / "tracker.db"
    with Database(path) as db:
        for i, (command_id, events) in enumerate(batches):
            if i == cut:
                checkpoints.save(db)
            db.record(events, command_id)
        live = tables(db.conn)
        assert replayed(db) == live
        if cut < len(batches):
            assert from_checkpoint(db) == live
            for table in TABLES:  # time travel for one table folds only the events that can change it
                assert scoped_from_checkpoint(db, table) == live[table], table
        assert verify(db) == []
        db.replay()
        assert tables(db.conn) == live


def from_checkpoint(db: Database) -> dict[str, list[tuple]]:
    """The tables the newest checkpoint plus the events after it give."""
    (ck,) = checkpoints.listing(db)
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    try:
        snapshot.load(ck.path, fresh)
        db.fold(fresh, after_seq=ck.seq)
        return tables(fresh)
    finally:
        fresh.close()


def scoped_from_checkpoint(db: Database, table: str) -> list[tuple]:
    """One table as the newest checkpoint plus only the events that can change it give."""
    (ck,) = checkpoints.listing(db)
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    try:
        snapshot.load(ck.path, fresh)
        db.fold(fresh, after_seq=ck.seq, types=scope.event_types(table))
        return tables(fresh)[table]
    finally:
        fresh.close()


def test_every_table_and_fold_has_its_scope() -> None:
    """Every table is touched by some module's folds, every fold's module says what it touches."""
    assert {t for touched in scope.TOUCHES.values() for t in touched} == set(TABLES)
    assert {f.__module__ for folds in HANDLERS.values() for f in folds} == set(scope.TOUCHES)
    assert scope.modules("dvds") == {"projections.dvds"}
    assert scope.modules("availability") == {"projections.providers"}
    assert "WatchProvidersChecked" in scope.event_types("movies")
    assert "WatchProvidersChecked" not in scope.event_types("availability")
    assert {"DvdAdded", "DvdUkCertificationNormalized", "DvdRemoved"} <= set(scope.event_types("dvds"))
    assert "ItemProcessed" not in scope.event_types("dvds")
    assert "GenreNamed" in scope.event_types("movies")


def test_replay_decodes_the_lighter_views_folds_read() -> None:
    """A replay decodes an ItemProcessed row into its view, without its changes, and every view
    declares fields of its event only, with the event's defaults."""
    row = '{"type":"ItemProcessed","command_id":"c","item":"dvd:1","outcome":"updated","changes":{"title":[null,"x"]}}'
    [event] = rebuild._events_decoder()(f"[{row}]")
    assert type(event) is fold.READ_AS[et.ItemProcessed]
    assert (event.command_id, event.item, event.outcome, event.reason) == ("c", "dvd:1", "updated", "")
    assert not hasattr(event, "changes")
    for event_type, view in fold.READ_AS.items():
        fields = {f.name: _default_json(f) for f in msgspec.structs.fields(event_type)}
        assert {f.name: _default_json(f) for f in msgspec.structs.fields(view)}.items() <= fields.items(), view
        assert view.__struct_config__.tag == event_type.__name__


def _default_json(field: msgspec.structs.FieldInfo) -> object:
    """A field's default as JSON (a view keeps some fields raw: their default is the event's,
    encoded), or NODEFAULT."""
    value = field.default if field.default_factory is msgspec.NODEFAULT else field.default_factory()
    if value is msgspec.NODEFAULT:
        return value
    return bytes(value) if isinstance(value, msgspec.Raw) else msgspec.json.encode(value)


def test_a_replay_stores_raw_torrents_as_an_incremental_fold_does(tmp_path: Path) -> None:
    """Torrents a replay keeps as the log's text (quotes, accents, control characters and all)
    fill the column as incremental folds fill it from the decoded torrents."""
    odd = et.Torrent("720p", 'we"b\\ \u00e9\n\x01', 1, 2, 2**40, "h")
    with Database(tmp_path / "tracker.db") as db:
        db.record([et.DvdAdded(dvd_id=0, title="Heat"), et.DvdAdded(dvd_id=0, title="Alien")])
        db.record([et.DvdTorrentsChecked(dvd_id=1, torrents=[odd, odd]), et.DvdTorrentsChecked(dvd_id=2)])
        live = tables(db.conn)
        assert replayed(db) == live
    assert [r[TABLES["dvds"].columns.index("torrents")] for r in live["dvds"]] == [
        msgspec.json.encode([odd, odd]).decode(), "[]"]


def test_replay_reads_command_ids_a_chunk_cannot_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay gives what incremental folds gave when a command id holds a comma or is empty beside
    a NULL one (its chunk is then folded row by row), and a chunk of plain rows around them."""
    monkeypatch.setattr(reading, "FOLD_CHUNK_SEQS", 4)
    with Database(tmp_path / "tracker.db") as db:
        for cid in ("plain", "a,b", "", None, "x\"y"):
            db.record([et.DvdAdded(dvd_id=0, title=f"t{cid}"), et.DvdAdded(dvd_id=0, title=f"u{cid}")], cid)
        live = tables(db.conn)
        assert [row[-1] for row in live["dvds"]] == ["plain", "plain", "a,b", "a,b", "", "", None, None, 'x"y', 'x"y']
        assert replayed(db) == live


def test_columns_set_blind_in_bulk_reach_the_rows_they_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns set without reading their rows, on more DVDs than one multi-row UPDATE takes, change
    those DVDs and no other, recorded and replayed alike (the replay's cache flushed often)."""
    monkeypatch.setattr(rebuild, "REPLAY_CACHE_CELLS", 60)
    with Database(tmp_path / "tracker.db") as db:
        db.record([et.DvdAdded(dvd_id=0, title=f"t{i}", uk_certification="PG") for i in range(800)], "c1")
        normalized = list(range(2, 801, 2))  # more than row_sql.update_sql's rows a statement
        db.record([et.DvdUkCertificationNormalized(dvd_id=i, uk_certification=f"pg{i}") for i in normalized], "c2")
        db.record([et.DvdTorrentsChecked(dvd_id=i, torrents=[]) for i in range(1, 801, 3)], "c3")
        live = tables(db.conn)
        certificates = {row[0]: row[10] for row in live["dvds"]}
        assert certificates == {i: f"pg{i}" if i % 2 == 0 else "PG" for i in range(1, 801)}
        assert sum(row[15] == "[]" for row in live["dvds"]) == len(range(1, 801, 3))
        assert replayed(db) == live


def test_an_item_written_twice_in_one_flush_keeps_its_last_row(tmp_path: Path) -> None:
    """Items processed twice within one batch (more rows than one multi-row INSERT's worth) keep
    the later outcome, recorded and replayed alike."""
    with Database(tmp_path / "tracker.db") as db:
        db.record([et.CommandRequested(command_id="c", name="refresh")], "c")
        items = [et.ItemProcessed(command_id="c", item=f"dvd:{i % 200}", outcome="failed" if i < 200 else "updated",
                                  reason="" if i >= 200 else "timed out") for i in range(600)]
        db.record(items, "c")
        live = tables(db.conn)
        assert [(item, outcome, seq) for _c, item, outcome, _r, seq in live["command_items"]] == sorted(
            (f"dvd:{i}", "updated", 2 + 400 + i) for i in range(200))
        assert replayed(db) == live


def test_replay_equals_incremental_across_cache_flushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay equals incremental across cache flushes."""
    # Replay evicts its row cache past REPLAY_CACHE_CELLS cells; keys then come back from SQL.
    monkeypatch.setattr(rebuild, "REPLAY_CACHE_CELLS", 50)
    monkeypatch.setattr(reading, "FOLD_CHUNK_SEQS", 7)  # the bound checked often: many evictions
    with Database(tmp_path / "tracker.db") as db:
        for i in range(300):
            db.record([
                et.DvdAdded(dvd_id=0, title=f"t{i}", tmdb_id=i + 1),
                et.DvdDetailsRefreshed(dvd_id=1 + (i * 7) % (i + 1), tagline=f"g{i}", genres=["Drama"]),
                et.MovieListed(tmdb_id=i % 40, title=f"m{i}", genre_ids=[i % 9]),
                et.GenreNamed(tmdb_id=i % 9, name=f"n{i}", media_type="tv" if i % 2 else "movie"),
                et.OfferAdded(media_type="movie", tmdb_id=i % 40, region="GB", offer_type="rent", provider_id=1),
                et.OfferRemoved(media_type="movie", tmdb_id=(i * 3) % 40, region="GB", offer_type="rent",
                                provider_id=1),
                et.ItemProcessed(command_id="c", item=f"dvd:{i}", outcome="updated"),
            ], "c")
        assert db.store.count() == 2100
        live = tables(db.conn)
        assert len(live["dvds"]) == 300
        assert replayed(db) == live
        db.replay()  # the live tables too: evictions, then rows loaded back and updated
        assert tables(db.conn) == live


def test_time_travel_from_a_checkpoint_equals_incremental_across_cache_flushes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding on from a checkpoint with a small cache (rows loaded from SQL, changed columns
    remembered, tables written and forgotten in turn) gives the live tables, whole and per table."""
    monkeypatch.setattr(rebuild, "REPLAY_CACHE_CELLS", 50)
    monkeypatch.setattr(reading, "FOLD_CHUNK_SEQS", 7)
    with Database(tmp_path / "tracker.db") as db:
        for i in range(200):
            if i == 80:
                checkpoints.save(db)
            db.record([
                et.DvdAdded(dvd_id=0, title=f"t{i}", tmdb_id=i + 1),
                et.DvdDetailsRefreshed(dvd_id=1 + (i * 7) % (i + 1), tagline=f"g{i}", genres=["Drama"]),
                et.DvdUkCertificationNormalized(dvd_id=1 + (i * 5) % (i + 1), uk_certification=f"c{i}"),
                et.MovieListed(tmdb_id=i % 40, title=f"m{i}", genre_ids=[i % 9]),
                et.OfferAdded(media_type="movie", tmdb_id=i % 40, region="GB", offer_type="rent", provider_id=1),
                et.OfferRemoved(media_type="movie", tmdb_id=(i * 3) % 40, region="GB", offer_type="rent",
                                provider_id=1),
                et.ItemProcessed(command_id="c", item=f"dvd:{i}", outcome="updated"),
            ], "c")
        live = tables(db.conn)
        assert from_checkpoint(db) == live
        for table in ("dvds", "movies", "availability", "command_items"):
            assert scoped_from_checkpoint(db, table) == live[table], table


def test_replay_cache_keeps_the_table_whose_rows_come_back(tmp_path: Path) -> None:
    """Past its bound the row cache forgets first the rows of tables whose forgotten rows never
    came back: titles listed again stay cached, a burst of new DVDs goes."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    selects: list[str] = []
    conn.set_trace_callback(lambda sql: selects.append(sql) if sql.startswith("SELECT") else None)
    rows = RowCache(conn, known_empty=True, max_cells=4000)

    def visit(movies: range, dvds: range) -> int:
        """Touch these rows, then let the cache evict; how many SELECTs the movies needed."""
        selects.clear()
        for table, keys, make in (("movies", movies, TABLES["movies"].row), ("dvds", dvds, TABLES["dvds"].row)):
            for key in keys:
                row = rows.get(table, (key,)) or make(key)
                row.title = f"{table} {key}"
                rows.put(table, (key,), row)
        rows.maybe_flush()
        return sum(" FROM movies " in sql for sql in selects)

    assert visit(range(1, 201), range(1, 41)) == 0  # over the bound: the bigger movies go
    assert visit(range(1, 101), range(41, 101)) > 0  # the movies come back from SQL
    assert visit(range(1, 101), range(101, 111)) == 0  # so this time the DVDs went, not they
    rows.flush()
    assert [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("movies", "dvds")] == [200, 110]
    conn.close()


def test_flush_writes_many_rows_by_multi_row_inserts(tmp_path: Path) -> None:
    """A flush of many new rows writes each exactly, most by statements of many rows, the rest one by one."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    item = TABLES["command_items"].row
    per = row_sql.MULTI_PARAMS // len(TABLES["command_items"].columns)
    count = 2 * per + 7
    rows = RowCache(conn)
    outcomes = ("updated", "skipped")  # no column alike in every row (see the test below)
    for i in range(count):
        key = (f"c{i % 2}", f"line:{i}")
        rows.put("command_items", key, item(*key, outcomes[i % 2], f"r{i}", i))
    inserts: list[str] = []
    conn.set_trace_callback(lambda sql: inserts.append(sql) if sql.startswith("INSERT") else None)
    rows.flush()
    assert len(inserts) == 2 + 7
    assert conn.execute("SELECT command_id, item, outcome, reason, seq FROM command_items ORDER BY seq").fetchall() \
        == [(f"c{i % 2}", f"line:{i}", outcomes[i % 2], f"r{i}", i) for i in range(count)]
    conn.close()


def test_a_key_written_again_keeps_its_last_row_whole_in_a_table_without_rowid(tmp_path: Path) -> None:
    """Rows of a WITHOUT ROWID table written again at their key, in one flush and in the next,
    end as the last row written, columns it leaves empty emptied too (as INSERT OR REPLACE did,
    which an upsert on the key replaced: it keeps SQLite from journaling each statement)."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    assert "ON CONFLICT" in row_sql.SQL["command_items"][2] and "OR REPLACE" in row_sql.SQL["dvds"][2]
    rows = RowCache(conn)
    for i in range(700):  # multi-row statements of 333 rows, each key many times in each
        rows.write("command_items", ("c", f"line:{i % 20}", "updated", f"first {i}", i))
    rows.flush()
    assert conn.execute("SELECT item, reason, seq FROM command_items ORDER BY " + BY_LINE).fetchall() == [
        (f"line:{k}", f"first {680 + k}", 680 + k) for k in range(20)]
    for i in range(20):
        rows.write("command_items", ("c", f"line:{i}", "failed", None, None) if i % 2 else
                   ("c", f"line:{i}", "skipped", f"again {i}", 100 + i))
    rows.flush()
    command = TABLES["commands"].row(command_id="c", name="import", status="running", total=5)
    rows.put("commands", ("c",), command)
    rows.flush()
    rows.put("commands", ("c",), TABLES["commands"].row(command_id="c", name="import", status="completed"))
    rows.flush()
    assert conn.execute("SELECT item, outcome, reason, seq FROM command_items ORDER BY " + BY_LINE).fetchall() == [
        (f"line:{i}", "failed", None, None) if i % 2 else (f"line:{i}", "skipped", f"again {i}", 100 + i)
        for i in range(20)]
    assert conn.execute("SELECT status, total FROM commands").fetchall() == [("completed", None)]
    conn.close()


def test_an_older_sqlite_without_upsert_replaces_rows_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before SQLite 3.24 (no ON CONFLICT DO UPDATE) a WITHOUT ROWID table's rows go in by INSERT
    OR REPLACE, as a rowid table's always do; with it, by the upsert on the key."""
    items, dvds_table = TABLES["command_items"], TABLES["dvds"]
    assert not items.rowid and dvds_table.rowid
    assert row_sql.upsert_sql(items, items.columns).endswith(
        "ON CONFLICT (command_id, item) DO UPDATE SET outcome = excluded.outcome, reason = excluded.reason, "
        "seq = excluded.seq")
    monkeypatch.setattr(row_sql, "_UPSERT", False)
    assert row_sql.upsert_sql(items, ("command_id", "item")) == \
        "INSERT OR REPLACE INTO command_items (command_id, item) VALUES (?, ?)"
    assert row_sql.upsert_sql(dvds_table, ("id",)) == "INSERT OR REPLACE INTO dvds (id) VALUES (?)"


BY_LINE = "CAST(substr(item, 6) AS INTEGER)"  # command_items' "line:N" in N's order


def test_text_alike_in_every_row_is_bound_once_a_statement_and_rows_stay_exact(tmp_path: Path) -> None:
    """Rows sharing their text (or NULL) in some columns go in statements binding those once, so
    more rows a statement, each row written exactly; numbers equal across types (1, 1.0, True)
    are not shared, each keeping its own; an UPDATE of many rows to the same time binds it once."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    count = 1007  # command, outcome and seq shared: two columns left, 500 rows a statement
    rows = RowCache(conn)
    for i in range(count):
        rows.write("command_items", ("c", f"line:{i}", "updated", (1, 1.0, True)[i % 3], None))
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    rows.flush()
    assert len([s for s in statements if s.startswith("INSERT")]) == 2 + 7
    written = conn.execute("SELECT command_id, item, outcome, reason, typeof(seq) FROM command_items ORDER BY "
                           + BY_LINE).fetchall()
    assert written == [("c", f"line:{i}", "updated", ("1", "1.0", "1")[i % 3], "null") for i in range(count)]
    rows = RowCache(conn)
    for i in range(999):
        rows.set_columns("command_items", ("c", f"line:{i}"), ("outcome", "seq"), ("failed", i))
    statements.clear()
    rows.flush()
    assert len([s for s in statements if s.startswith("UPDATE")]) == 3  # 333 rows a statement (250 unshared)
    assert conn.execute("SELECT outcome, seq FROM command_items ORDER BY " + BY_LINE).fetchall() \
        == [("failed", i) for i in range(999)] + [("updated", None)] * 8
    conn.close()


def test_a_column_alike_only_in_the_rows_looked_at_first_is_bound_row_by_row(tmp_path: Path) -> None:
    """A column holding the same text in the first, middle and last rows of a flush, and other
    text between, is not bound once for all: every row keeps its own."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    count = 1001  # three columns alike in the rows looked at: 500 rows a statement if they were shared
    alike = {0, count // 2, count - 1}
    rows = RowCache(conn)
    for i in range(count):
        rows.write("command_items", ("c", f"line:{i}", "updated", "same" if i in alike else f"r{i}", i))
    rows.flush()
    assert conn.execute("SELECT reason FROM command_items ORDER BY " + BY_LINE).fetchall() == [
        ("same" if i in alike else f"r{i}",) for i in range(count)]
    conn.close()


def test_rows_written_whole_go_on_their_own_and_offers_are_written_once(tmp_path: Path, monkeypatch) -> None:
    """In a replay, command items past their own bound are written while the offers, added and
    removed again and again by puts alone, stay cached: each offer reaches SQL once, at the end,
    as its last put left it."""
    monkeypatch.setattr("projections.rows.WRITTEN_CELLS", 500)  # 100 command items
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    offer = TABLES["availability"].row
    inserted: list[str] = []
    conn.set_trace_callback(lambda sql: inserted.append(sql) if "INTO availability" in sql else None)
    rows = RowCache(conn, known_empty=True, max_cells=2000)
    for i in range(1000):
        rows.write("command_items", ("c", f"line:{i}", "updated", "", i))
        key = ("movie", i % 20, "GB", "rent", 1)
        if i % 7 == 3:
            rows.delete("availability", key)
        else:
            rows.put("availability", key, offer(*key, f"t{i}"))
        rows.maybe_flush()
        if i == 500:
            assert conn.execute("SELECT COUNT(*) FROM command_items").fetchone()[0] >= 400
            assert not inserted  # the offers are still only in the cache
    rows.flush()
    last = {i % 20: i for i in range(1000)}
    kept = [(k, f"t{i}") for k, i in sorted(last.items()) if i % 7 != 3]
    assert conn.execute("SELECT tmdb_id, since FROM availability ORDER BY tmdb_id").fetchall() == kept
    assert conn.execute("SELECT COUNT(*) FROM command_items").fetchone()[0] == 1000
    assert len(inserted) == len(kept)  # each offer written once (so few go one by one)
    conn.close()


def test_a_table_is_written_only_when_its_turn_to_be_forgotten_comes(tmp_path: Path, monkeypatch) -> None:
    """Past its bound the cache writes and forgets the biggest table not reloaded, the DVDs, and
    no more once it holds half: titles changed again and again stay cached, unwritten, and reach
    SQL once, as last changed."""
    written: dict[str, int] = {}

    def counting(conn: sqlite3.Connection, writes: list) -> None:
        for sql, params in writes:
            table = sql.split(" INTO ")[1].split()[0] if " INTO " in sql else sql.split()[2]
            written[table] = written.get(table, 0) + len(params)
        row_sql.execute_writes(conn, writes)

    monkeypatch.setattr("projections.rows.execute_writes", counting)
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    rows = RowCache(conn, known_empty=True, max_cells=20_000)
    movie, dvd = TABLES["movies"].row, TABLES["dvds"].row
    for i in range(3000):
        key = (i % 50,)
        row = rows.get("movies", key) or movie(tmdb_id=i % 50)
        row.title = f"m{i}"
        rows.put("movies", key, row)
        rows.put("dvds", (i,), dvd(id=i, title=f"d{i}"))
        rows.maybe_flush()
    assert written["dvds"] > 0 and "movies" not in written  # the DVDs went, the titles stayed
    rows.flush()
    assert written["movies"] == 50
    assert conn.execute("SELECT tmdb_id, title FROM movies ORDER BY tmdb_id").fetchall() == [
        (k, f"m{2950 + k}") for k in range(50)]
    assert conn.execute("SELECT COUNT(*) FROM dvds").fetchone()[0] == 3000
    conn.close()


def test_wide_rows_alike_in_their_nulls_go_in_one_insert_and_others_by_their_columns(tmp_path: Path) -> None:
    """A flush of wide rows null in the same columns is one INSERT of the others; rows null in
    different columns are grouped by those columns; either way each row is written exactly."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    dvd = TABLES["dvds"].row
    alike = [dvd(id=i, title=f"t{i}", year=1990, uk_certification="PG") for i in range(1, 41)]
    mixed = [dvd(id=i, title=f"t{i}", year=None if i % 2 else 1990, tagline="g" if i % 3 else None)
             for i in range(41, 81)]
    written = []
    for batch in (alike, mixed):
        rows = RowCache(conn)
        for row in batch:
            rows.put("dvds", (row.id,), row)
        inserts: list[str] = []
        conn.set_trace_callback(lambda sql, seen=inserts: seen.append(sql) if sql.startswith("INSERT") else None)
        rows.flush()
        conn.set_trace_callback(None)
        written.append(len({sql.split(" VALUES ")[0] for sql in inserts}))
    assert written == [1, 4]  # (year, tagline) set or not: four shapes among the mixed rows
    columns = ", ".join(TABLES["dvds"].columns)
    assert conn.execute(f"SELECT {columns} FROM dvds ORDER BY id").fetchall() == [
        msgspec.structs.astuple(row) for row in alike + mixed]
    conn.close()


def test_an_item_processed_twice_in_one_transaction_keeps_its_last_outcome(tmp_path: Path) -> None:
    """An item recorded twice in one transaction (a failure, then a retry that worked) keeps its
    last outcome, reason and seq; both count."""
    with Database(tmp_path / "t.db") as db:
        db.record_all([([et.CommandRequested(command_id="c1", name="import")], "c1"),
                       ([et.ItemProcessed(command_id="c1", item="dvd:2", outcome="failed", reason="x")], "c1"),
                       ([et.ItemProcessed(command_id="c1", item="dvd:1", outcome="updated")], "c1"),
                       ([et.ItemProcessed(command_id="c1", item="dvd:2", outcome="skipped", reason="y")], "c1")])
        assert db.conn.execute("SELECT * FROM command_items ORDER BY item").fetchall() == [
            ("c1", "dvd:1", "updated", "", 3), ("c1", "dvd:2", "skipped", "y", 4)]
        assert db.conn.execute("SELECT processed, updated, skipped, failed FROM commands").fetchall() == [(3, 1, 1, 1)]
        assert tables(db.conn) == replayed(db)


def test_new_dvds_of_two_commands_in_one_transaction_get_distinct_ids(tmp_path: Path) -> None:
    """DVDs added by two commands recorded in one transaction get the next ids in turn: the
    second command's are not given the first's ids, still only in the row cache."""
    with Database(tmp_path / "t.db") as db:
        db.record([et.DvdAdded(dvd_id=0, title="Heat")], "c0")
        db.record_all([([et.DvdAdded(dvd_id=0, title="Alien"), et.DvdAdded(dvd_id=0, title="Ran")], "c1"),
                       ([et.DvdAdded(dvd_id=0, title="Up")], "c2"),
                       ([et.DvdAdded(dvd_id=0, title="Jaws")], "c1")])
        assert db.conn.execute("SELECT id, title, added_by FROM dvds ORDER BY id").fetchall() == [
            (1, "Heat", "c0"), (2, "Alien", "c1"), (3, "Ran", "c1"), (4, "Up", "c2"), (5, "Jaws", "c1")]
        db.record([et.DvdAdded(dvd_id=0, title="Big")], "c3")  # the next transaction goes on from SQL
        assert db.conn.execute("SELECT MAX(id) FROM dvds").fetchone() == (6,)
        assert tables(db.conn) == replayed(db)


def test_columns_set_blind_reach_the_row_however_it_is_read(tmp_path: Path) -> None:
    """Columns set without reading their row: a cached row changes in place, an uncached one by
    an UPDATE at the flush, one loaded later (alone or in a run) shows them, a missing row stays
    missing, and a whole row put afterwards wins."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    create_tables(conn)
    dvd = TABLES["dvds"].row
    seed = RowCache(conn)
    for i in range(1, 9):
        seed.put("dvds", (i,), dvd(id=i, title=f"t{i}", uk_certification="PG"))
    seed.flush()
    rows = RowCache(conn)
    assert rows.get("dvds", (1,)).uk_certification == "PG"
    rows.set_columns("dvds", (1,), ("uk_certification",), ("pg",))
    rows.set_columns("dvds", (2,), ("title", "uk_certification"), ("T2", "a"))
    rows.set_columns("dvds", (2,), ("uk_certification",), ("u",))  # set again: the later value wins
    rows.set_columns("dvds", (3,), ("uk_certification", "title"), ("x", "T3"))
    assert rows.get("dvds", (3,)).uk_certification == "x"
    rows.set_columns("dvds", (9,), ("uk_certification",), ("z",))
    rows.set_columns("dvds", (4,), ("uk_certification",), ("old",))
    rows.put("dvds", (4,), dvd(id=4, title="new"))
    rows.set_columns("dvds", (7,), ("uk_certification",), ("r",))
    rows.get("dvds", (5,))
    rows.get("dvds", (6,))  # the next id: the rows after it are loaded in one run, 7 among them
    rows.flush()
    assert conn.execute("SELECT id, title, uk_certification FROM dvds ORDER BY id").fetchall() == [
        (1, "t1", "pg"), (2, "T2", "u"), (3, "T3", "x"), (4, "new", None), (5, "t5", "PG"), (6, "t6", "PG"),
        (7, "t7", "r"), (8, "t8", "PG")]
    conn.close()


def test_columns_set_blind_hold_about_as_much_memory_as_rows_under_the_same_bound() -> None:
    """Columns set blind count against the cache's bound as rows do: normalizing 20,000 DVDs
    blind under a bound peaks at most half again as high as changing their loaded rows under it
    (the flush's parameters come on top of both; counted as
    one cell each, they once held ~40 MB past the bound in a replay of 250,000 DVDs)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)  # 20,000 UPDATEs: no disk syncs
    create_tables(conn)
    seed = RowCache(conn)
    for i in range(1, 20_001):
        seed.put("dvds", (i,), TABLES["dvds"].row(id=i, title=f"Film {i}", year=1990, tmdb_id=i,
                                                  imdb_id=f"tt{i:07d}", uk_certification="PG"))
    seed.flush()

    def peak_bytes(blind: bool) -> int:
        """Peak traced memory of lower-casing every certificate under a bound of 40,000 cells."""
        rows = RowCache(conn, max_cells=40_000)
        tracemalloc.start()
        for i in range(1, 20_001):
            if blind:
                rows.set_columns("dvds", (i,), ("uk_certification",), ("pg",))
            else:
                rows.changing("dvds", (i,)).uk_certification = "pg"
            rows.maybe_flush()
        rows.flush()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    assert peak_bytes(blind=True) <= 1.5 * peak_bytes(blind=False)
    assert conn.execute("SELECT COUNT(*) FROM dvds WHERE uk_certification = 'pg'").fetchone()[0] == 20_000
    conn.close()


def _dvd(db: Database, dvd_id: int) -> dict[str, Any]:
    cols = TABLES["dvds"].columns
    row = db.conn.execute(f"SELECT {', '.join(cols)} FROM dvds WHERE id = ?", (dvd_id,)).fetchone()
    return dict(zip(cols, row, strict=True))


def test_a_new_dvd_row_by_position_is_the_row_by_name() -> None:
    """The row dvd_added builds by position holds each value in the column of its name, every
    other column null."""
    assert dvds.new_row(7, "Heat", 1995, 949, "tt0113277", "15", "2026-11-28T06:00:00.000000Z", "c1") == \
        TABLES["dvds"].row(id=7, title="Heat", year=1995, tmdb_id=949, imdb_id="tt0113277", uk_certification="15",
                           added_at="2026-11-28T06:00:00.000000Z", updated_at="2026-11-28T06:00:00.000000Z",
                           added_by="c1")


def test_dvd_folds(tmp_path: Path) -> None:
    """Dvd folds."""
    with Database(tmp_path / "tracker.db") as db:
        db.record([et.DvdAdded(dvd_id=0, title="Fight Club", imdb_id="tt0137523"),
                   et.DvdAdded(dvd_id=0, title="Heat", uk_certification="15")])
        db.record([et.DvdDetailsRefreshed(dvd_id=1, imdb_id="tt9999999", tagline="", budget=0,
                                          production_companies=[], director="David Fincher",
                                          uk_certification="18", genres=["Drama"]),
                   et.DvdDetailsRefreshed(dvd_id=2, imdb_id="tt0113277"),
                   et.DvdTorrentsChecked(dvd_id=2, torrents=[]),
                   et.DvdPosterSaved(dvd_id=9, poster="media/posters/x.jpg")])  # unknown DVD: no row
        one, two = _dvd(db, 1), _dvd(db, 2)
        assert (one["imdb_id"], one["tagline"], one["budget"], one["production_companies"]) == (
            "tt0137523", "", 0, "[]")  # a held IMDb id is kept; TMDB's empties stored as empties
        assert (two["imdb_id"], two["torrents"], two["uk_certification"]) == ("tt0113277", "[]", "")
        assert two["torrents_checked_at"] is not None
        assert db.conn.execute("SELECT COUNT(*) FROM dvds").fetchone()[0] == 2


def test_details_set_the_same_columns_whether_or_not_some_field_is_locked(tmp_path: Path) -> None:
    """A refresh of a DVD with nothing locked (set field by field in one go) fills every detail
    column as it does for one with an unrelated field locked (set one by one, skipping locks)."""
    details = et.DvdDetailsRefreshed(dvd_id=0, tagline="t", budget=1, revenue=2, production_companies=["A", "B"],
                                     director="d", uk_certification="15", rating=7.5, vote_count=3,
                                     poster_path="/p.jpg", imdb_id="tt1", genres=["Drama"])
    with Database(tmp_path / "tracker.db") as db:
        db.record([et.DvdAdded(dvd_id=0, title="Heat"), et.DvdAdded(dvd_id=0, title="Heat"),
                   et.DvdFieldsLocked(dvd_id=2, fields=["poster"])])
        db.record([msgspec.structs.replace(details, dvd_id=1), msgspec.structs.replace(details, dvd_id=2)])
        free, locked = _dvd(db, 1), _dvd(db, 2)
    assert free["locked_fields"] is None and locked["locked_fields"] == '["poster"]'
    detail_columns = [*dvds.DETAIL_FIELDS, "genres", "tmdb_poster_path", "imdb_id"]
    assert {c: free[c] for c in detail_columns} == {c: locked[c] for c in detail_columns}
    assert free["production_companies"] == '["A","B"]' and free["rating"] == 7.5 and free["vote_count"] == 3


def test_catalogue_and_availability_folds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Catalogue and availability folds."""
    cli = Cli(tmp_path, capsys)
    with Database(cli.db) as db:
        db.record([et.MovieListed(tmdb_id=550, title="Fight Club", genre_ids=[18, 99]),
                   et.GenreNamed(tmdb_id=18, name="Drama", media_type="movie"),
                   et.GenreNamed(tmdb_id=18, name="Drama", media_type="tv"),
                   et.MovieDetailsRefreshed(tmdb_id=550, runtime=139, genres=[et.GenreRef(18, "Other"),
                                                                              et.GenreRef(53, "Thriller")]),
                   et.MovieDetailsRefreshed(tmdb_id=1, runtime=1),  # not listed: ignored
                   et.ProviderSeen(provider_id=8, name="Netflix", logo_path="/n.jpg"),
                   et.ProviderLogoSaved(provider_id=8, logo="media/provider_logos/n.jpg"),
                   et.OfferAdded(media_type="movie", tmdb_id=550, region="GB", offer_type="flatrate", provider_id=8),
                   et.OfferAdded(media_type="movie", tmdb_id=550, region="US", offer_type="rent", provider_id=8),
                   et.OfferRemoved(media_type="movie", tmdb_id=550, region="GB", offer_type="flatrate",
                                   provider_id=8)])
    movie, = cli.export("movies")
    assert (movie["runtime"], movie["genres"]) == (139, ["Drama", "Thriller"])  # official names win
    assert cli.export("genres") == [
        {"tmdb_id": 18, "name": "Drama", "media_types": ["movie", "tv"]},
        {"tmdb_id": 53, "name": "Thriller", "media_types": []},
        {"tmdb_id": 99, "name": None, "media_types": []}]
    assert cli.export("providers") == [{"provider_id": 8, "name": "Netflix", "logo": "media/provider_logos/n.jpg"}]
    assert cli.export("availability") == [
        {"media_type": "movie", "tmdb_id": 550, "region": "US", "offer_type": "rent", "provider_id": 8}]
    assert "verify: ok" in cli.ok("verify")


def test_snapshot_differences_count_each_key_whose_rows_differ(tmp_path: Path) -> None:
    """A snapshot's differences count, per table, each key changed, missing or extra on either
    side once, and never a row equal on both sides (NULLs included)."""
    live = sqlite3.connect(":memory:", isolation_level=None)
    create_tables(live)
    rows = [(1, "Heat", None), (2, "Alien", 1979), (3, "Ran", None), (4, "Up", 2009)]
    live.executemany("INSERT INTO dvds (id, title, year) VALUES (?, ?, ?)", rows)
    live.execute("INSERT INTO genres (tmdb_id, name) VALUES (18, 'Drama')")
    path = tmp_path / "snap.db"
    snapshot.save(live, path, dict)
    assert snapshot.differences(live, path) == {}
    side = sqlite3.connect(path)
    side.execute("UPDATE dvds SET year = 1980 WHERE id = 2")  # changed
    side.execute("UPDATE dvds SET year = 1995 WHERE id = 1")  # NULL here, a value there
    side.execute("DELETE FROM dvds WHERE id = 4")  # missing from the snapshot
    side.execute("INSERT INTO dvds (id, title) VALUES (9, 'Extra')")  # only in the snapshot
    side.commit()
    side.close()
    assert snapshot.differences(live, path) == {"dvds": 4}
    live.execute("INSERT INTO genres (tmdb_id, name) VALUES (35, NULL)")  # only live, with a NULL
    assert snapshot.differences(live, path) == {"dvds": 4, "genres": 1}
    other = tmp_path / "other.db"
    snapshot.save(live, other, dict)
    side = sqlite3.connect(other)
    side.execute("INSERT INTO genres (tmdb_id, name) VALUES (99, 'Only there')")  # every live row matched
    side.commit()
    side.close()
    assert snapshot.differences(live, other) == {"genres": 1}
