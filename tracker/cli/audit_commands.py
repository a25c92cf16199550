"""The audit commands: history, replay, verify and export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from events.types import EVENT_TYPES
from projections.export import export_rows
from projections.tables import EXPORTABLE
from tracker import audit
from tracker.cli import output
from tracker.config import Settings
from tracker.db import open_database
from tracker.errors import UsageError
from tracker.timefmt import parse_iso


def history(args: argparse.Namespace, settings: Settings) -> int:
    """Print the audit log, filtered."""
    since = parse_iso(args.since, "--since") if args.since else None
    types = [t.strip() for t in args.type.split(",")] if args.type else None
    unknown = [t for t in types or [] if t not in EVENT_TYPES]
    if unknown:
        raise UsageError(f"--type: unknown event type {unknown[0]!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    with open_database(settings.db_path) as db:
        rows = audit.history(db, command_id=args.command_id, dvd_id=args.dvd, types=types, since=since)
        for row in rows:
            if args.json:
                print(output.json_line(row))
            else:
                data = {k: v for k, v in row["data"].items() if k != "type"}
                print(f"{row['seq']:>7}  {row['at']}  {row['type']:<28} {row['command_id'] or '-':<12} "
                      f"{output.json_line(data)}")
    return 0


def _setup_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("--command", dest="command_id", metavar="ID", help="events of one command")
    p.add_argument("--dvd", type=int, metavar="ID", help="events about one DVD")
    p.add_argument("--type", metavar="TYPE", help="event type(s), comma-separated (DvdAdded,...)")
    p.add_argument("--since", metavar="ISO", help="events at or after this UTC time")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def replay(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the read tables from the log (as of a moment, into another file)."""
    until = parse_iso(args.as_of, "--as-of") if args.as_of else None
    if until and not args.into:
        raise UsageError("--as-of needs --into FILE: the live tables always hold the present")
    with open_database(settings.db_path) as db:
        if args.into:
            count = audit.replay_into_file(db, Path(args.into), until_at=until)
            print(f"replayed {count} events into {args.into}")
        else:
            count = db.replay()
            print(f"replayed {count} events; read tables rebuilt")
    return 0


def _setup_replay(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", metavar="ISO", help="rebuild the state at this UTC time")
    p.add_argument("--into", metavar="FILE", help="write the rebuilt tables to this SQLite file")


def verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check the log's chain and that the tables equal a fresh replay."""
    with open_database(settings.db_path) as db:
        problems = audit.verify(db)
        count = db.store.count()
    if problems:
        for p in problems:
            print(p)
        print(f"verify: {len(problems)} difference(s) found in {count} events", file=sys.stderr)
        return 1
    print(f"verify: ok ({count} events, hash chain intact, read tables equal a fresh replay)")
    return 0


def export(args: argparse.Namespace, settings: Settings) -> int:
    """Write a read table to stdout (as of a moment, rebuilt in memory)."""
    import sqlite3
    with open_database(settings.db_path, must_exist=False) as db:
        if args.as_of:
            until = parse_iso(args.as_of, "--as-of")
            conn = sqlite3.connect(":memory:", isolation_level=None)
            db.replay(until_at=until, target=conn)
        else:
            conn = db.conn
        output.write_export(export_rows(conn, args.table), args.format)
    return 0


def _setup_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", choices=EXPORTABLE, help="one of " + ", ".join(EXPORTABLE))
    p.add_argument("--format", choices=("json", "jsonl", "csv"), default="json")
    p.add_argument("--as-of", metavar="ISO", help="the table as it was at this UTC time")


def _setup_nothing(p: argparse.ArgumentParser) -> None:
    pass


BUILTINS = (
    ("history", history, "The audit log, filtered.", _setup_history),
    ("replay", replay, "Rebuild every read table from the log.", _setup_replay),
    ("verify", verify, "Check the log's integrity and that the tables equal a fresh replay.", _setup_nothing),
    ("export", export, "Write a table to stdout as json, jsonl or csv.", _setup_export),
)
