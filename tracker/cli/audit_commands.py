"""The audit commands: history, replay, verify, export and backup."""

from __future__ import annotations

import argparse
import io
import sqlite3
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from events.types import EVENT_TYPES
from projections.commands import command_exists, command_names
from projections.dvds import dvd_row
from projections.export import FIELDS, csv_batches, export_batches
from projections.tables import EXPORTABLE
from tracker import audit, changelog, checkpoints
from tracker.cli import output
from tracker.cli.arguments import positive_int
from tracker.config import Settings
from tracker.db import Database, open_database
from tracker.errors import UsageError
from tracker.timefmt import parse_iso


def history(args: argparse.Namespace, settings: Settings) -> int:
    """Print the audit log, filtered: one line per field change, or (--json) one event per line."""
    since = parse_iso(args.since, "--since") if args.since else None
    types = [t.strip() for t in args.type.split(",")] if args.type else None
    unknown = [t for t in types or [] if t not in EVENT_TYPES]
    if unknown:
        raise UsageError(f"--type: unknown event type {unknown[0]!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    with open_database(settings.db_path) as db:
        _check_ids(db, args)
        filters = dict(command_id=args.command_id, dvd_id=args.dvd, types=types, since=since)
        if args.json:
            for row in _events(db, field=args.field, limit=args.limit, **filters):
                print(output.json_line(row))
            return 0
        found = changelog.changes(db, field=args.field, limit=args.limit, **filters)
        for change in found:
            print(changelog.line(change))
        if not found:
            print("no changes match", file=sys.stderr)
    return 0


def _check_ids(db: Database, args: argparse.Namespace) -> None:
    """An id that names nothing is a mistake to say, not an empty answer (exit 2)."""
    if args.dvd is not None and dvd_row(db.conn, args.dvd) is None:
        raise UsageError(f"--dvd: no DVD {args.dvd} (tracker list shows the ids)")
    if args.command_id and not command_exists(db.conn, args.command_id):
        raise UsageError(f"--command: no command {args.command_id!r} (tracker status shows recent ones)")


def _events(db: Database, *, field: str | None, limit: int | None, **filters: Any) -> list[dict[str, Any]]:
    """Events as JSON objects with their command's name; with ``limit`` the newest, newest first."""
    names = command_names(db.conn)
    rows = (dict(r, command=names.get(r["command_id"] or "")) for r in audit.history(db, **filters))
    if field:
        rows = (r for r in rows if _mentions(r["data"], field))
    return list(reversed(deque(rows, maxlen=limit))) if limit else list(rows)


def _mentions(data: dict[str, Any], field: str) -> bool:
    """Whether an event's data names a field (as a value, a change or a locked field)."""
    return field in data or field in (data.get("changes") or {}) or field in (data.get("fields") or ())


def _setup_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("--command", dest="command_id", metavar="ID", help="events of one command (default any)")
    p.add_argument("--dvd", type=positive_int, metavar="ID", help="events about one DVD (default any)")
    p.add_argument("--field", metavar="NAME", help="changes of one field (uk_certification, ...; default any)")
    p.add_argument("--type", metavar="TYPE", help="event type(s), comma-separated (DvdAdded,...; default any)")
    p.add_argument("--since", metavar="ISO", help="events at or after this UTC time (default: from the first)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="the newest N, newest first (default all)")
    p.add_argument("--json", action="store_true", help="one JSON object per event, per line (default text)")


def replay(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the read tables from the log (as of a moment, into another file)."""
    until = parse_iso(args.as_of, "--as-of") if args.as_of else None
    if until and not args.into:
        raise UsageError("--as-of needs --into FILE: the live tables always hold the present")
    with open_database(settings.db_path) as db:
        if args.into:
            reached, start = audit.replay_into_file(db, Path(args.into), until_at=until, force=args.force)
            via = f" (from the checkpoint at seq {start.seq}, then {reached - start.seq})" if start else ""
            print(f"replayed {reached} events{via} into {args.into}")
        else:
            with _folding_progress(db, "replay"):
                count = db.replay()
            checkpoints.save_quietly(db)  # the rebuilt present: time travel to now starts here
            print(f"replayed {count} events; read tables rebuilt")
    return 0


@contextmanager
def _folding_progress(db: Database, label: str) -> Iterator[None]:
    """A bar on a terminal's stderr while ``db`` folds its log: at a million events a replay takes
    seconds and a verify a quarter of a minute here (a minute on a NAS), silent until now."""
    progress = output.Progress(label)
    if progress.enabled:  # no call per chunk when nothing is drawn
        total = db.store.count()
        db.on_folded = lambda seq: progress.set(seq, total)
    try:
        yield
    finally:
        db.on_folded = None
        progress.close()


def _setup_replay(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", metavar="ISO", help="rebuild the state at this UTC time (default: now; needs --into)")
    p.add_argument("--into", metavar="FILE",
                   help="write the rebuilt tables to this SQLite file (default: rebuild the live tables)")
    p.add_argument("--force", action="store_true", help="with --into: replace an existing file (default: refuse)")


def verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check the log's chain and that the tables equal a fresh replay."""
    with open_database(settings.db_path) as db, _folding_progress(db, "verify"):
        problems, count = audit.verify_report(db)
    if problems:
        for p in problems:
            print(p)
        print(f"verify: {len(problems)} difference(s) found in {count} events", file=sys.stderr)
        return 1
    print(f"verify: ok ({count} events, hash chain intact, read tables equal a fresh replay)")
    return 0


def export(args: argparse.Namespace, settings: Settings) -> int:
    """Write a read table to stdout (as of a moment, rebuilt in memory)."""
    until = parse_iso(args.as_of, "--as-of") if args.as_of else None
    with open_database(settings.db_path, must_exist=False) as db:
        lines = _cached_lines(db, args.table, args.format, until)
        if lines is None and until:
            conn = sqlite3.connect(":memory:", isolation_level=None)
            checkpoints.time_travel(db, conn, until, only=args.table)
            lines = _cached_lines(db, args.table, args.format, until)  # if it saved a checkpoint there
        else:
            conn = db.conn
        if lines is not None:  # from a checkpoint's export lines: only the rows changed since are encoded
            _write_binary(lambda out: output.write_lines_export(lines, args.format, out))
        else:
            _write_export(conn, args.table, args.format)
    return 0


def _cached_lines(db: Database, table: str, fmt: str, until: str | None) -> Iterator[bytes | memoryview] | None:
    """The export's JSON lines from a checkpoint's export cache, or None (csv; no such cache)."""
    return None if fmt == "csv" else checkpoints.cached_export(db, table, until)


def _write_export(conn: sqlite3.Connection, table: str, fmt: str) -> None:
    """A table to stdout: JSON straight from the rows as bytes, CSV from lists of values."""
    if fmt == "csv":
        output.write_csv_export(FIELDS[table], csv_batches(conn, table), sys.stdout)
        return
    _write_binary(lambda out: output.write_encoded_export(export_batches(conn, table), fmt, out))


def _write_binary(write: Callable[[IO[bytes]], object]) -> None:
    """Let ``write`` put bytes on stdout (through a buffer when stdout has no bytes underneath)."""
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # a stdout without bytes underneath (captured in a StringIO)
        out = io.BytesIO()
        write(out)
        sys.stdout.write(out.getvalue().decode())
        return
    write(binary)
    binary.flush()


def _setup_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", choices=EXPORTABLE, help="one of " + ", ".join(EXPORTABLE))
    p.add_argument("--format", choices=("json", "jsonl", "csv"), default="json", help="output format (default json)")
    p.add_argument("--as-of", metavar="ISO", help="the table as it was at this UTC time (default: now)")


def checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    """Save the read tables as they are now beside the log, for fast time travel."""
    with open_database(settings.db_path) as db:
        saved = checkpoints.save(db)
        count = len(checkpoints.listing(db))
    print(f"checkpoint saved at seq {saved.seq} ({saved.path}); {count} kept")
    return 0


def _setup_nothing(p: argparse.ArgumentParser) -> None:
    pass


def backup(args: argparse.Namespace, settings: Settings) -> int:
    """A consistent, checked copy of the database, safe while a daemon writes."""
    from tracker.backup import backup as take_backup
    report = take_backup(settings.db_path, Path(args.file))
    if args.json:
        print(output.json_line({"path": str(report.path), "events": report.events,
                                "last_seq": report.last_seq, "size_bytes": report.size_bytes,
                                "checked": True}))
    else:
        print(f"backup: {report.path} ({report.events} events up to seq {report.last_seq}, "
              f"{report.size_bytes / 1e6:.1f} MB); integrity ok, hash chain intact")
    return 0


def _setup_backup(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="where to write the copy (a folder gets tracker.db)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object (default text)")


# name -> (handler, setup of its arguments); tracker.cli.main lists them with their summaries.
BUILTINS = {
    "history": (history, _setup_history),
    "replay": (replay, _setup_replay),
    "verify": (verify, _setup_nothing),
    "export": (export, _setup_export),
    "checkpoint": (checkpoint, _setup_nothing),
    "backup": (backup, _setup_backup),
}
