"""The log's hash chain: each row's hash covers its predecessor's, and the check of a whole log."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any

GENESIS_HASH = "0" * 64
_CHECK_BATCH = 2000
_sha256 = hashlib.sha256


def chain_hash(prev: str, seq: int, type_: str, at: str, command_id: str | None,
               subject: str | None, v: int, data: str | bytes) -> str:
    """The row's hash: it covers the previous row's hash and every column of this row."""
    # command_id and subject are covered too: editing them would misattribute a change.
    # chained_rows_py inlines this for appends; test_hash_chain_links_every_column holds them equal.
    head = f"{prev}|{seq}|{type_}|{at}|{command_id or ''}|{subject or ''}|{v}|"
    if isinstance(data, bytes):
        return _sha256(head.encode() + data).hexdigest()
    return _sha256((head + data).encode()).hexdigest()


def chained_rows_py(items: Iterable[Any], seq: int, prev: str, at: str, command_id: str | None,
                    v: int) -> tuple[list, str]:
    """One command's rows, (type, data, subject) each, as the INSERT's values, five a row (seq,
    type, subject, data, hash), each hashed onto the one before; the last hash.

    ``chained_rows`` is this, or the same in C (events/_chain.c) where that was built."""
    # chain_hash inlined, locals only: this loop is most of append's Python time. The columns
    # every row shares are formatted once. A copy of an empty hash is cheaper to start from than
    # sha256() itself, which looks the digest up by name each time.
    fresh = _sha256().copy
    values: list = []
    extend = values.extend
    middle, tail = f"|{at}|{command_id or ''}|", f"|{v}|"
    for type_, data, subject in items:
        seq += 1
        head = f"{prev}|{seq}|{type_}{middle}{subject or ''}{tail}"
        digest = fresh()
        if data.__class__ is bytes:
            digest.update(head.encode() + data)
            # Stored as TEXT: a BLOB is not JSON to sqlite3's json functions, and the log stays readable.
            # (Decoded here: SQL's CAST(? AS TEXT) of the bytes measured 1.3 us a row dearer.)
            data = data.decode()
        else:
            digest.update((head + data).encode())
        prev = digest.hexdigest()
        extend((seq, type_, subject, data, prev))
    return values, prev


try:  # the same rows in C, ~2.5x faster: 0.9 s of an import of 250,000 rows on the writer's thread
    from events._chain import chained_rows
except ImportError:  # not built where it was installed (no C compiler or OpenSSL headers)
    chained_rows = chained_rows_py
CHAIN_IN_C = chained_rows is not chained_rows_py


def verify_chain(conn: sqlite3.Connection, until_seq: int | None = None) -> list[str]:
    """Problems with the log (to ``until_seq`` if given): a gap in seq, a broken hash link, or
    times going backwards."""
    problems: list[str] = []
    prev_hash, prev_seq, prev_at = GENESIS_HASH, 0, ""
    sql = ("SELECT seq, type, at, command_id, subject, v, data, hash FROM events"
           " WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?")
    last = 2**63 - 1 if until_seq is None else until_seq
    while True:
        rows = conn.execute(sql, (prev_seq, last, _CHECK_BATCH)).fetchall()
        for seq, type_, at, command_id, subject, v, data, stored in rows:
            if seq != prev_seq + 1:
                problems.append(f"seq {prev_seq + 1}..{seq - 1}: missing rows")
            if at < prev_at:
                problems.append(f"seq {seq}: time goes backwards ({at} < {prev_at})")
            expected = chain_hash(prev_hash, seq, type_, at, command_id, subject, v, data)
            if expected != stored:
                problems.append(f"seq {seq}: hash does not match its content and predecessor")
            prev_hash, prev_seq, prev_at = stored, seq, at
        if len(rows) < _CHECK_BATCH:
            return problems
