"""A DVD's history for its page: the changelog's field changes, one entry per command."""

from __future__ import annotations

from typing import Any

from tracker import changelog
from tracker.db import Database


def dvd_timeline(db: Database, dvd_id: int) -> list[dict[str, Any]]:
    """Every change to one DVD, oldest first: when, which command, and each field's old -> new."""
    entries: dict[str, dict[str, Any]] = {}
    for change in changelog.changes(db, dvd_id=dvd_id):
        key = change.command_id or f"seq:{change.seq}"
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = {"seq": change.seq, "at": change.at, "command_id": change.command_id,
                                    "command": change.command, "changes": [], "notes": []}
        if change.field:
            entry["changes"].append({"field": change.field, "old": change.old, "new": change.new,
                                     "note": change.note})
        elif change.note:
            entry["notes"].append(change.note)
    return list(entries.values())
