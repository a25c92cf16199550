"""Rows of the read tables as `tracker export` gives them: exported fields, JSON decoded, genres named."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from projections.tables import EXPORTABLE, TABLES

_decode = msgspec.json.decode


def _field(column: str) -> str:
    """A column's exported name: catalogue titles' genre ids are exported as genre names."""
    return "genres" if column == "genre_ids" else column


# Each exported table's fields, in order, and which hold JSON: derived from the table definitions.
FIELDS: dict[str, tuple[str, ...]] = {t: tuple(map(_field, TABLES[t].exported)) for t in EXPORTABLE}
JSON_FIELDS = {_field(c) for t in EXPORTABLE for c in TABLES[t].json_columns}
ORDER = {t: ", ".join(TABLES[t].key) for t in EXPORTABLE}
# Rows a table keeps that are not exported: removed DVDs stay for their history and their id.
WHERE = {"dvds": "WHERE removed_at IS NULL"}


def _genre_names(conn: sqlite3.Connection) -> dict[int, str]:
    return {i: n for i, n in conn.execute("SELECT tmdb_id, name FROM genres WHERE name IS NOT NULL")}


def export_rows(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    """Stream a table's rows as dicts of exported fields (lists decoded, genre ids named)."""
    fields = FIELDS[table]
    names = _genre_names(conn) if table in ("movies", "tv") else {}
    cursor = conn.execute(f"SELECT {', '.join(TABLES[table].exported)} FROM {table} {WHERE.get(table, '')}"
                          f" ORDER BY {ORDER[table]}")
    while batch := cursor.fetchmany(1000):
        for values in batch:
            row = _exported(fields, values)
            if names or table in ("movies", "tv"):
                row["genres"] = [names[g] for g in row["genres"] or [] if g in names]
            yield row


# Each exported table's row as it is encoded: one attribute per exported field, in order.
_ENCODED = {t: msgspec.defstruct(f"{t}_export", [(f, Any, None) for f in FIELDS[t]], gc=False)
            for t in EXPORTABLE}
_NO_LOCKS = msgspec.Raw(b"[]")
_encode = msgspec.json.Encoder().encode
BATCH_ROWS = 2000  # rows per batch: a few MB, so output goes out in big writes


def keyed_lines(conn: sqlite3.Connection, table: str, *, where: str = "") -> Iterator[list[tuple[Any, bytes]]]:
    """A table's rows as exported JSON lines (each ending in a newline) with their key, in batches.

    The bytes of each line are those ``export_batches`` gives its row; ``where`` narrows the rows
    (an SQL condition on the table's columns). For tables with a one-column key.
    """
    make, (key,) = _ENCODED[table], TABLES[table].key
    at = TABLES[table].exported.index(key)
    for batch in _value_lists(conn, table, msgspec.Raw, _NO_LOCKS, where=where):
        yield [(values[at], _encode(make(*values)) + b"\n") for values in batch]


def export_batches(conn: sqlite3.Connection, table: str) -> Iterator[list[Any]]:
    """Stream a table's rows as exported, in batches of Structs ready for msgspec to encode.

    The JSON a column holds is passed through as ``msgspec.Raw``, not decoded and encoded
    again: it was written by msgspec, so the bytes are those of the decoded value re-encoded.
    """
    make = _ENCODED[table]
    for batch in _value_lists(conn, table, msgspec.Raw, _NO_LOCKS):
        yield [make(*values) for values in batch]


def csv_batches(conn: sqlite3.Connection, table: str) -> Iterator[list[list[Any]]]:
    """Stream a table's rows as exported to CSV, in batches of value lists.

    A JSON list or object stays the text its column holds (what encoding it again would give);
    other JSON (a bare string or number) is decoded, so a cell treats it as its own kind.
    """
    return _value_lists(conn, table, _csv_json, "[]")


def _csv_json(text: str) -> Any:
    return text if text[:1] in ("[", "{") else _decode(text)


def _value_lists(conn: sqlite3.Connection, table: str, json_value: Callable[[str], Any],
                 no_locks: Any, *, where: str = "") -> Iterator[list[list[Any]]]:
    """A table's exported values, a batch of lists at a time: JSON through ``json_value``, genres named."""
    t = TABLES[table]
    names = _genre_names(conn) if table in ("movies", "tv") else None
    raw = [i for i, c in enumerate(t.exported) if c in t.json_columns and c != "genre_ids"]
    genres = t.exported.index("genre_ids") if names is not None else -1
    locks = t.exported.index("locked_fields") if "locked_fields" in t.exported else -1
    conditions = " AND ".join(c for c in (WHERE.get(table, "").removeprefix("WHERE "), where) if c)
    cursor = conn.execute(f"SELECT {', '.join(t.exported)} FROM {table}{' WHERE ' if conditions else ''}"
                          f"{conditions} ORDER BY {ORDER[table]}")
    while batch := cursor.fetchmany(BATCH_ROWS):
        out = []
        for values in batch:
            values = list(values)
            for i in raw:
                if values[i] is not None:
                    values[i] = json_value(values[i])
            if locks >= 0 and values[locks] is None:
                values[locks] = no_locks
            if names is not None:
                values[genres] = [names[g] for g in _decode(values[genres] or "null") or () if g in names]
            out.append(values)
        yield out


def _exported(fields: tuple[str, ...], values: tuple) -> dict[str, Any]:
    """One row as a dict of exported fields, its JSON columns decoded."""
    row = dict(zip(fields, values, strict=True))
    for f in JSON_FIELDS.intersection(row):
        if row[f] is not None:
            row[f] = _decode(row[f])
    if "locked_fields" in row:
        row["locked_fields"] = row["locked_fields"] or []
    return row


def _dvd_filter(search: str | None) -> tuple[str, tuple]:
    """WHERE for DVDs in the collection, whose title contains ``search`` (any case; % and _ literal)."""
    if not search:
        return f" {WHERE['dvds']}", ()
    pattern = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f" {WHERE['dvds']} AND title LIKE ? ESCAPE '\\'", (f"%{pattern}%",)


def exported_dvds(conn: sqlite3.Connection, *, search: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[dict[str, Any]]:
    """DVDs in id order as exported, optionally only titles containing ``search``, one page."""
    where, params = _dvd_filter(search)
    fields = FIELDS["dvds"]
    sql = f"SELECT {', '.join(fields)} FROM dvds{where} ORDER BY id LIMIT ? OFFSET ?"
    rows = conn.execute(sql, (*params, -1 if limit is None else limit, offset)).fetchall()
    return [_exported(fields, values) for values in rows]


def count_dvds(conn: sqlite3.Connection, *, search: str | None = None) -> int:
    """How many DVDs there are (with ``search``: whose title contains it)."""
    where, params = _dvd_filter(search)
    return conn.execute(f"SELECT COUNT(*) FROM dvds{where}", params).fetchone()[0]


def exported_dvd(conn: sqlite3.Connection, dvd_id: int) -> dict[str, Any] | None:
    """One DVD of the collection as exported, or None (a removed one too)."""
    fields = FIELDS["dvds"]
    values = conn.execute(f"SELECT {', '.join(fields)} FROM dvds {WHERE['dvds']} AND id = ?",
                          (dvd_id,)).fetchone()
    return None if values is None else _exported(fields, values)
