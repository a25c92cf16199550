"""The dvds table: the DVD collection folded from DVD events, and its named queries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from events.types import (
    DvdAdded,
    DvdDetailsRefreshed,
    DvdEdited,
    DvdFieldsLocked,
    DvdFieldsUnlocked,
    DvdIdentified,
    DvdImdbIdPopulated,
    DvdMerged,
    DvdPosterSaved,
    DvdRemoved,
    DvdTmdbIdMatched,
    DvdTorrentsChecked,
    DvdUkCertificationNormalized,
)
from projections.fold import Envelope, on, read_as
from projections.rows import RowCache, from_json, select_rows, to_json
from projections.tables import TABLES

Dvd = TABLES["dvds"].row
JSON_COLUMNS = TABLES["dvds"].json_columns
DETAIL_FIELDS = ("tagline", "budget", "revenue", "production_companies", "director",
                 "uk_certification", "rating", "vote_count")
# Fields a user may set with `edit` (tmdb_id goes through identify: it clears the old details).
EDITABLE = ("title", "year", "imdb_id", "uk_certification", "director", "tagline")
# Fields a user may lock: what edit and identify set, and everything a refresh fills.
LOCKABLE = ("title", "year", "tmdb_id", "imdb_id", *DETAIL_FIELDS, "poster")
# What identify clears: whatever was fetched for the old TMDB id (locked fields stay).
FETCHED = (*DETAIL_FIELDS, "imdb_id", "genres", "poster", "tmdb_poster_path", "torrents",
           "torrents_checked_at", "details_refreshed_at")


def locked(row: Any) -> set[str]:
    """The names of a row's locked fields (a ``dvds`` row struct, or a dict, decoded or not)."""
    value = row.get("locked_fields") if isinstance(row, dict) else row.locked_fields
    return set((from_json(value) if isinstance(value, str) else value) or ())


def _lock(row: Any, fields: Iterable[str], *, add: bool = True) -> None:
    """Add (or remove) fields to the row's locked set, kept as a sorted JSON list."""
    held = locked(row)
    held = held | set(fields) if add else held - set(fields)
    row.locked_fields = to_json(sorted(held)) if held else None


def _set(row: Any, name: str, value: Any) -> None:
    """Set one column, JSON columns given as values (lists) stored as their text."""
    setattr(row, name, to_json(value) if name in JSON_COLUMNS and value is not None else value)


def _row(rows: RowCache, env: Envelope, dvd_id: int) -> Any:
    """The DVD's row, stamped as updated now and to be written back; None for an unknown DVD."""
    row = rows.changing("dvds", (dvd_id,))
    if row is not None:
        row.updated_at = env.at
    return row


@on(DvdAdded)
def dvd_added(rows: RowCache, env: Envelope, e: DvdAdded) -> None:
    """A new row with what the user gave; everything TMDB will fill stays null."""
    rows.put("dvds", (e.dvd_id,), new_row(e.dvd_id, e.title, e.year, e.tmdb_id, e.imdb_id, e.uk_certification,
                                          env.at, env.command_id))


def new_row(dvd_id: int, title: str, year: int | None, tmdb_id: int | None, imdb_id: str | None,
            uk_certification: str | None, at: str, command_id: str | None) -> Any:
    """A new DVD's row: these values, added and updated ``at`` by ``command_id``, the rest null.

    Given by position, in the table's column order (a test holds it equal to the row given by
    name): a row built by name took 1.1 us, by position 0.4, 250,000 times in a replay of the
    wide shape and in its import.
    """
    return Dvd(dvd_id, title, year, tmdb_id, imdb_id, None, None, None, None, None, uk_certification,
               None, None, None, None, None, None, None, at, None, at, None, None, None, command_id)


@on(DvdTmdbIdMatched)
def tmdb_id_matched(rows: RowCache, env: Envelope, e: DvdTmdbIdMatched) -> None:
    """Record the TMDB id a search found (a locked id stays)."""
    if (row := _row(rows, env, e.dvd_id)) is not None and "tmdb_id" not in locked(row):
        row.tmdb_id = e.tmdb_id


@on(DvdImdbIdPopulated)
def imdb_id_populated(rows: RowCache, env: Envelope, e: DvdImdbIdPopulated) -> None:
    """Record the IMDb id TMDB gave ("" when it has none; a locked id stays)."""
    if (row := _row(rows, env, e.dvd_id)) is not None and "imdb_id" not in locked(row):
        row.imdb_id = e.imdb_id


@read_as(DvdDetailsRefreshed)
class DvdDetailsRefreshedRead(msgspec.Struct, frozen=True, tag="DvdDetailsRefreshed", tag_field="type", gc=False):
    """What a replay decodes a DvdDetailsRefreshed into: its two lists left as the log's JSON
    text, which is what their columns store (decoding them to encode them again took ~1.5 us
    an event)."""

    dvd_id: int
    tagline: str = ""
    budget: int = 0
    revenue: int = 0
    production_companies: msgspec.Raw = msgspec.Raw(b"[]")
    director: str = ""
    uk_certification: str = ""
    rating: float = 0.0
    vote_count: int = 0
    poster_path: str = ""
    imdb_id: str | None = None
    genres: msgspec.Raw = msgspec.Raw(b"[]")


@on(DvdDetailsRefreshed)
def details_refreshed(rows: RowCache, env: Envelope, e: DvdDetailsRefreshed | DvdDetailsRefreshedRead) -> None:
    """Every detail field at once, TMDB's empties kept as empties; locked fields and a held
    IMDb id are kept."""
    row = _row(rows, env, e.dvd_id)
    if row is None:
        return
    keep = locked(row)
    if keep:
        for name in DETAIL_FIELDS:
            if name not in keep:
                _set(row, name, getattr(e, name))
    else:  # nothing locked, as for nearly every DVD: set directly (a loop of _set cost ~2.5 us)
        row.tagline, row.budget, row.revenue, row.director = e.tagline, e.budget, e.revenue, e.director
        row.production_companies = to_json(e.production_companies)
        row.uk_certification, row.rating, row.vote_count = e.uk_certification, e.rating, e.vote_count
    row.genres, row.tmdb_poster_path = to_json(e.genres), e.poster_path
    row.details_refreshed_at = env.at
    if e.imdb_id is not None and not row.imdb_id and "imdb_id" not in keep:
        row.imdb_id = e.imdb_id


@on(DvdPosterSaved)
def poster_saved(rows: RowCache, env: Envelope, e: DvdPosterSaved) -> None:
    """Point the DVD at its saved poster file (unless the poster is locked)."""
    if (row := _row(rows, env, e.dvd_id)) is not None and "poster" not in locked(row):
        row.poster = e.poster


@on(DvdUkCertificationNormalized)
def certification_normalized(rows: RowCache, env: Envelope, e: DvdUkCertificationNormalized) -> None:
    """Store the lower-cased certificate (asked for by the user, so a locked one too)."""
    # Set without reading the row: normalize changes every DVD, and loading each whole row to
    # change two columns was most of its writer's time.
    rows.set_columns("dvds", (e.dvd_id,), ("updated_at", "uk_certification"), (env.at, e.uk_certification))


@read_as(DvdTorrentsChecked)
class DvdTorrentsCheckedRead(msgspec.Struct, frozen=True, tag="DvdTorrentsChecked", tag_field="type", gc=False):
    """What a replay decodes a DvdTorrentsChecked into: the torrents left as the log's JSON text,
    which is what the column stores (building each Torrent to encode it again took ~2 us an
    event)."""

    dvd_id: int
    torrents: msgspec.Raw = msgspec.Raw(b"[]")


@on(DvdTorrentsChecked)
def torrents_checked(rows: RowCache, env: Envelope, e: DvdTorrentsChecked | DvdTorrentsCheckedRead) -> None:
    """Replace the DVD's torrents with what YTS answered, and when."""
    rows.set_columns("dvds", (e.dvd_id,), ("updated_at", "torrents", "torrents_checked_at"),
                     (env.at, to_json(e.torrents), env.at))  # without reading it (see above)


@on(DvdEdited)
def edited(rows: RowCache, env: Envelope, e: DvdEdited) -> None:
    """Set the fields the user gave."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        for name, value in e.fields.items():
            if name in EDITABLE:
                _set(row, name, value)


@on(DvdFieldsLocked)
def fields_locked(rows: RowCache, env: Envelope, e: DvdFieldsLocked) -> None:
    """Lock fields against refreshes."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        _lock(row, e.fields)


@on(DvdFieldsUnlocked)
def fields_unlocked(rows: RowCache, env: Envelope, e: DvdFieldsUnlocked) -> None:
    """Let refreshes fill these fields again."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        _lock(row, e.fields, add=False)


@on(DvdIdentified)
def identified(rows: RowCache, env: Envelope, e: DvdIdentified) -> None:
    """The TMDB id the user chose, locked; what was fetched for another id is cleared."""
    row = _row(rows, env, e.dvd_id)
    if row is None:
        return
    if e.tmdb_id != row.tmdb_id:
        keep = locked(row)
        for name in FETCHED:
            if name not in keep:
                setattr(row, name, None)
    row.tmdb_id = e.tmdb_id
    _lock(row, ["tmdb_id"])


@on(DvdMerged)
def merged(rows: RowCache, env: Envelope, e: DvdMerged) -> None:
    """The dropped DVD's values fill the kept one's empty fields; its locks come along."""
    row = _row(rows, env, e.dvd_id)
    if row is None:
        return
    for name, value in e.fields.items():
        if name in TABLES["dvds"].columns:
            _set(row, name, value)
    gone = rows.get("dvds", (e.merged_id,))
    if gone is not None:
        _lock(row, locked(gone) & set(e.fields))


@on(DvdRemoved)
def removed(rows: RowCache, env: Envelope, e: DvdRemoved) -> None:
    """Mark the DVD removed: exports leave it out, its row and history stay (ids are not reused)."""
    if (row := _row(rows, env, e.dvd_id)) is not None:
        row.removed_at, row.merged_into = env.at, e.merged_into


# --- named queries ------------------------------------------------------------------------------

_LIVE = "removed_at IS NULL"


def by_id(conn: sqlite3.Connection, dvd_id: int) -> Any:
    """The DVD with this id (a ``Dvd`` row, removed ones too), or None."""
    rows = select_rows(conn, "dvds", "id = ?", (dvd_id,))
    return rows[0] if rows else None


def dvd_row(conn: sqlite3.Connection, dvd_id: int) -> dict[str, Any] | None:
    """One DVD's whole row (removed ones too) as a dict, JSON columns as text; None when unknown."""
    row = by_id(conn, dvd_id)
    return None if row is None else msgspec.structs.asdict(row)


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its JSON columns turned into values."""
    return {k: (from_json(v) if k in JSON_COLUMNS else v) for k, v in row.items()}


def not_in_collection(conn: sqlite3.Connection, ids: Iterable[int]) -> list[int]:
    """Those of ``ids`` that name no DVD in the collection (unknown or removed)."""
    ids = sorted(set(ids))
    if not ids:
        return []
    held = {r[0] for r in conn.execute(
        f"SELECT id FROM dvds WHERE {_LIVE} AND id IN ({', '.join('?' * len(ids))})", ids)}
    return [i for i in ids if i not in held]


def holder_of_tmdb_id(conn: sqlite3.Connection, tmdb_id: int) -> int | None:
    """The DVD in the collection that has this TMDB id, if any."""
    row = conn.execute(f"SELECT id FROM dvds WHERE tmdb_id = ? AND {_LIVE} ORDER BY id LIMIT 1",
                       (tmdb_id,)).fetchone()
    return row[0] if row else None


def titles_and_years(conn: sqlite3.Connection) -> list[tuple[int, str, int | None]]:
    """(id, title, year) of every DVD in the collection."""
    return conn.execute(f"SELECT id, title, year FROM dvds WHERE {_LIVE} ORDER BY id").fetchall()


def added_by(conn: sqlite3.Connection, command_id: str) -> list[tuple[int, str, int | None]]:
    """(id, title, year) of the DVDs a command added, in order."""
    return conn.execute("SELECT id, title, year FROM dvds WHERE added_by = ? ORDER BY id",
                        (command_id,)).fetchall()


def _unlocked_null(name: str) -> str:
    """SQL: the field is null and not locked (a locked empty field is the user's: leave it)."""
    return f"({name} IS NULL AND instr(COALESCE(locked_fields, ''), '\"{name}\"') = 0)"


_MISSING_DETAIL = " OR ".join(map(_unlocked_null, DETAIL_FIELDS))
_MISSING_POSTER = f"({_unlocked_null('poster')} AND (tmdb_poster_path IS NULL OR tmdb_poster_path != ''))"
Ids = Iterable[int] | None  # --dvd: only these DVDs (None: every DVD)


def _live(conn: sqlite3.Connection, condition: str, params: tuple = (), limit: int | None = None,
          ids: Ids = None) -> list[Any]:
    """``Dvd`` rows of the collection (not removed) meeting ``condition``, by id, the first ``limit``;
    with ``ids``, only those DVDs."""
    if ids is not None:
        ids = list(ids)
        condition = f"({condition}) AND id IN ({', '.join('?' * len(ids))})"
        params = (*params, *ids)
    return select_rows(conn, "dvds", f"{_LIVE} AND ({condition})", params, limit=limit)


@dataclass(frozen=True, slots=True)
class HeldKeys:
    """What identifies the DVDs already held, for duplicate checks when adding."""

    tmdb_ids: set[int]
    imdb_ids: set[str]
    title_years: set[tuple[str, int | None]]  # (case-folded title, year)


@dataclass(frozen=True, slots=True)
class DvdCounts:
    """How many DVDs there are, and how many hold each kind of data."""

    total: int
    with_tmdb_id: int
    with_imdb_id: int
    with_details: int
    with_poster: int
    with_torrents: int


def without_tmdb_id(conn: sqlite3.Connection, *, limit: int | None = None, ids: Ids = None) -> list[Any]:
    """DVDs without a TMDB id, by id (match-tmdb-ids); one locked empty is left alone."""
    return _live(conn, _unlocked_null("tmdb_id"), limit=limit, ids=ids)


def without_imdb_id(conn: sqlite3.Connection, *, limit: int | None = None, ids: Ids = None) -> list[Any]:
    """DVDs with a TMDB id whose IMDb id was never looked up, by id (populate-imdb-ids)."""
    return _live(conn, f"tmdb_id IS NOT NULL AND {_unlocked_null('imdb_id')}", limit=limit, ids=ids)


def with_tmdb_id(conn: sqlite3.Connection, *, limit: int | None = None, ids: Ids = None) -> list[Any]:
    """Every DVD with a TMDB id, by id."""
    return _live(conn, "tmdb_id IS NOT NULL", limit=limit, ids=ids)


def missing_details(conn: sqlite3.Connection, *, limit: int | None = None, ids: Ids = None) -> list[Any]:
    """DVDs with a TMDB id missing an unlocked detail field, or a poster TMDB has and we have not
    saved (locked empty fields are the user's: they do not select a DVD)."""
    return _live(conn, f"tmdb_id IS NOT NULL AND ({_MISSING_DETAIL} OR {_MISSING_POSTER})", limit=limit, ids=ids)


def with_imdb_id(conn: sqlite3.Connection, *, added_since: str | None = None,
                 limit: int | None = None, ids: Ids = None) -> list[Any]:
    """DVDs with an IMDb id; with ``added_since``, only those added since then or never checked."""
    if added_since is None:
        return _live(conn, "imdb_id > ''", limit=limit, ids=ids)
    return _live(conn, "imdb_id > '' AND (added_at >= ? OR torrents_checked_at IS NULL)",
                 (added_since,), limit=limit, ids=ids)


def uppercase_certifications(conn: sqlite3.Connection, *, limit: int | None = None) -> list[tuple[str, str]]:
    """(subject, certificate) of the DVDs whose UK certificate has upper-case letters, by id
    (``("dvd:12", "12A")``). Plain tuples from the cursor, the subject made by SQLite: a row
    struct and a formatted key per DVD took a third of the 0.75 s normalize spent on 250,000
    before its first item."""
    sql = (f"SELECT 'dvd:' || id, uk_certification FROM dvds WHERE {_LIVE}"
           " AND uk_certification != lower(uk_certification) ORDER BY id" + (" LIMIT ?" if limit else ""))
    return conn.execute(sql, (limit,) if limit else ()).fetchall()


def held_keys(conn: sqlite3.Connection) -> HeldKeys:
    """The TMDB ids, IMDb ids and (title, year) pairs of every DVD held."""
    return HeldKeys(
        {r[0] for r in conn.execute(f"SELECT tmdb_id FROM dvds WHERE {_LIVE} AND tmdb_id IS NOT NULL")},
        {r[0] for r in conn.execute(f"SELECT imdb_id FROM dvds WHERE {_LIVE} AND imdb_id > ''")},
        {(t.casefold(), y) for _, t, y in titles_and_years(conn)})


def fields_held(conn: sqlite3.Connection, fields: tuple[str, ...]) -> tuple[int, dict[str, int]]:
    """How many DVDs have a TMDB id, and how many of those hold each of ``fields``."""
    row = conn.execute("SELECT COUNT(*), " + ", ".join(f"COUNT({f})" for f in fields)
                       + f" FROM dvds WHERE {_LIVE} AND tmdb_id IS NOT NULL").fetchone()
    return row[0], dict(zip(fields, row[1:], strict=True))


def counts(conn: sqlite3.Connection) -> DvdCounts:
    """How many DVDs there are and how many hold ids, details, a poster, torrents."""
    return DvdCounts(*conn.execute(
        "SELECT COUNT(*), COUNT(tmdb_id), COUNT(CASE WHEN imdb_id > '' THEN 1 END),"
        " COUNT(details_refreshed_at), COUNT(poster), COUNT(CASE WHEN torrents > '[]' THEN 1 END)"
        f" FROM dvds WHERE {_LIVE}").fetchone())


def tracked_tmdb_ids(conn: sqlite3.Connection) -> set[int]:
    """The TMDB ids of every DVD in the collection that has one."""
    return {r[0] for r in conn.execute(f"SELECT DISTINCT tmdb_id FROM dvds WHERE tmdb_id IS NOT NULL AND {_LIVE}")}


def with_tmdb_ids(conn: sqlite3.Connection, tmdb_ids: Iterable[int]) -> list[Any]:
    """DVDs of the collection holding any of these TMDB ids, by id."""
    ids = sorted(tmdb_ids)
    return _live(conn, f"tmdb_id IN ({', '.join('?' * len(ids))})", tuple(ids)) if ids else []


def oldest_details_refresh(conn: sqlite3.Connection) -> str | None:
    """When the DVD refreshed longest ago was refreshed (UTC ISO), None if none ever was."""
    return conn.execute(f"SELECT MIN(details_refreshed_at) FROM dvds WHERE tmdb_id IS NOT NULL AND {_LIVE}"
                        ).fetchone()[0]
