"""Side files: a share of the read tables folded by another process, then copied in whole.

A parallel replay (tracker/parallel_replay.py) has a second process fold the tables of some
groups (projections/scope.py) into a throwaway file; the replaying connection attaches it and
copies those tables in, which SQLite does record by record without decoding a value (its
transfer optimisation: same columns, an empty table with no index yet).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from projections.rebuild import Replay, Share, fold_into
from projections.tables import create_tables

SIDE = "side"  # the schema name the side file is attached under


def fold_into_file(replay: Replay, path: Path, share: Share) -> int:
    """Fold the replay's rows with the share's folds into fresh tables in a new file; how many."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # throwaway: a crash leaves nothing to recover
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA cache_size = -{share.page_cache_kib}")
        create_tables(conn, indexes=False)  # copied into tables without indexes: none needed here
        conn.execute("BEGIN")
        count = fold_into(replay, conn, share, known_empty=True)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return count


@contextmanager
def attached(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """The file at ``path`` attached to ``conn`` as SIDE meanwhile (outside any transaction:
    SQLite attaches and detaches only there)."""
    conn.execute(f"ATTACH DATABASE ? AS {SIDE}", (str(path),))
    try:
        yield
    finally:
        conn.execute(f"DETACH DATABASE {SIDE}")


def copy_tables(conn: sqlite3.Connection, tables: Iterable[str]) -> None:
    """Copy these tables of the attached side file into the same, empty, tables of ``conn``.

    OR FAIL: an ABORT must be able to undo its own statement, so SQLite journaled every page the
    copy reused from the dropped tables (51 MB of temporary-file writes for the mix's DVDs; the
    copy 0.23 -> 0.18 s). Into empty tables of the same keys nothing can conflict, and a failure
    fails the whole replay's transaction anyway.
    """
    for name in tables:
        conn.execute(f"INSERT OR FAIL INTO main.{name} SELECT * FROM {SIDE}.{name}")
