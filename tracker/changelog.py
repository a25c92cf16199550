"""History for people: the log as one line per field change (when, which command, old -> new)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from projections.commands import command_names
from tracker import audit
from tracker.db import Database
from tracker.textfmt import value_text

_json = msgspec.json.Encoder()
_LIFECYCLE = {"CommandRequested", "CommandStarted", "CommandCompleted", "CommandFailed",
              "CommandCancelled", "CommandCancelRequested"}
_ADDED_FIELDS = ("title", "year", "tmdb_id", "imdb_id", "uk_certification")


@dataclass
class Change:
    """One line of history: a field's old and new value, or a note (a failure, a lifecycle step)."""

    seq: int
    at: str
    command_id: str | None
    command: str | None
    item: str
    field: str | None = None
    old: Any = None
    new: Any = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The change as a JSON object."""
        return {"seq": self.seq, "at": self.at, "command_id": self.command_id,
                "command": self.command, "item": self.item, "field": self.field,
                "old": self.old, "new": self.new, "note": self.note}


def line(change: Change) -> str:
    """One history line: time, command, item, then field: old -> new (or the note)."""
    at = change.at.replace("T", " ").rstrip("Z")[:19]
    what = (f"{change.field}: {value_text(change.old)} -> {value_text(change.new)}"
            if change.field else change.note)
    if change.field and change.note:
        what += f" ({change.note})"
    return f"{at}  {change.command or '-':<28} {change.item:<12} {what}"


def changes(db: Database, *, field: str | None = None, limit: int | None = None,
            **filters: Any) -> list[Change]:
    """The field changes in the log (filters as ``audit.history``), oldest first; with
    ``limit``, the newest ``limit`` of them, newest first."""
    names = command_names(db.conn)
    found: Iterable[Change] = _changes(audit.history(db, **filters), names)
    if field:
        found = (c for c in found if c.field == field)
    if limit:
        return list(reversed(deque(found, maxlen=limit)))
    return list(found)


def _changes(rows: Iterable[dict[str, Any]], names: dict[str, str]) -> Iterator[Change]:
    """Change lines from event rows; a DVD event whose item reports its changes is not repeated."""
    pending: list[dict[str, Any]] = []
    for row in rows:
        shown_by_events = False  # an item named by no subject ("add", "line:7") whose DVD was added
        if row["type"] == "ItemProcessed" and pending and pending[0]["command_id"] == row["command_id"]:
            item = row["data"]["item"]
            shown_by_events = not item.startswith("dvd:") and any(p["type"] == "DvdAdded" for p in pending)
            pending = [p for p in pending if p["subject"] != item]
        if row["type"] in _LIFECYCLE or row["type"] == "ItemProcessed":
            for p in pending:
                yield from _event_changes(p, names)
            pending = []
            if not shown_by_events:
                yield from _event_changes(row, names)
        else:
            if pending and pending[0]["command_id"] != row["command_id"]:
                for p in pending:
                    yield from _event_changes(p, names)
                pending = []
            pending.append(row)
    for p in pending:
        yield from _event_changes(p, names)


def _event_changes(row: dict[str, Any], names: dict[str, str]) -> Iterator[Change]:
    """The change lines one event stands for."""
    data, kind = row["data"], row["type"]
    base = dict(seq=row["seq"], at=row["at"], command_id=row["command_id"],
                command=names.get(row["command_id"] or ""), item=row["subject"] or "-")
    if kind == "ItemProcessed":
        base["item"] = data["item"]
        for name, (old, new) in data.get("changes", {}).items():
            yield Change(**base, field=name, old=old, new=new)
        reason = data.get("reason", "")
        if not data.get("changes") and reason and not reason.startswith("no change"):
            yield Change(**base, note=f"{data['outcome']}: {reason}")
    elif kind == "CommandStarted":
        return  # nothing changed: the request and the end say what matters
    elif kind in _LIFECYCLE:
        yield Change(**{**base, "item": "-"}, note=_lifecycle_note(kind, data))
    elif kind == "DvdAdded":
        for name in _ADDED_FIELDS:
            if data.get(name) is not None:
                yield Change(**base, field=name, old=None, new=data[name])
    elif kind == "DvdRemoved":
        into = data.get("merged_into")
        yield Change(**base, field="removed", old=False, new=True,
                     note=f"merged into DVD {into}" if into else "")
    else:
        rest = {k: v for k, v in data.items() if k not in ("type", "dvd_id")}
        yield Change(**base, note=f"{kind} {_json.encode(rest).decode()}")


def _lifecycle_note(kind: str, data: dict[str, Any]) -> str:
    """What a command's lifecycle event says, in words."""
    if kind == "CommandRequested":
        opts = " ".join(f"{k}={value_text(v)}" for k, v in data.get("options", {}).items() if v is not None)
        return f"requested {opts}".rstrip()
    if kind == "CommandStarted":
        return "started" + (f" ({data['total']} items)" if data.get("total") is not None else "")
    summary = data.get("summary", {})
    counts = ", ".join(f"{k} {summary[k]}" for k in ("processed", "updated", "skipped", "failed")
                       if k in summary)
    if kind == "CommandFailed":
        return f"failed: {data.get('reason', '')}"
    word = {"CommandCompleted": "completed", "CommandCancelled": "cancelled",
            "CommandCancelRequested": "cancel requested"}[kind]
    return f"{word}: {counts}" if counts else word
