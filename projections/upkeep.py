"""The sync_points table: where TMDB's change lists were last read up to, and its named queries."""

from __future__ import annotations

import sqlite3

from events.types import ChangesSynced
from projections.fold import Envelope, on
from projections.rows import RowCache
from projections.tables import TABLES

SyncPoint = TABLES["sync_points"].row
TMDB = "tmdb"  # the one source of change lists today


@on(ChangesSynced)
def changes_synced(rows: RowCache, env: Envelope, e: ChangesSynced) -> None:
    """The sync point moves to the end of the window just read."""
    rows.put("sync_points", (TMDB,), SyncPoint(source=TMDB, start_date=e.start_date,
                                               end_date=e.end_date, command_id=e.command_id,
                                               synced_at=env.at))


def last_sync_end(conn: sqlite3.Connection) -> str | None:
    """The last day (YYYY-MM-DD) TMDB's change lists were read up to, None before a first sync."""
    row = conn.execute("SELECT end_date FROM sync_points WHERE source = ?", (TMDB,)).fetchone()
    return row[0] if row else None
