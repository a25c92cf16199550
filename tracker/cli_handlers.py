"""What each CLI command does, over the library; every handler returns the exit status."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from events.types import EVENT_TYPES
from projections.export import export_rows
from projections.tables import EXPORTABLE
from tracker import audit, output
from tracker.commands import COMMANDS
from tracker.config import Settings
from tracker.db import Database
from tracker.errors import UsageError
from tracker.service import Submission, run_in_process, validated
from tracker.timefmt import parse_iso


def _open(settings: Settings, *, must_exist: bool = True) -> Database:
    """The database; with none yet, an error, or (for reads) an empty one that writes no file."""
    if not settings.db_path.exists():
        if must_exist:
            raise UsageError(f"no tracker database at {settings.db_path} (add or import DVDs "
                             "first, or give --home)")
        return Database(":memory:")
    return Database(settings.db_path)


def run_data_command(args: argparse.Namespace, settings: Settings) -> int:
    """Validate, run (here, via the engine, or queued), print the summary; 0, or 1 if any failed."""
    from tracker.cli import command_options
    sub = Submission(args.command, command_options(args), dry_run=args.dry_run,
                     enqueue=getattr(args, "enqueue", False))
    options = validated(settings, sub)
    cmd = COMMANDS[args.command]
    progress = output.Progress(args.command)
    verbose_out = sys.stderr if args.json else sys.stdout

    def on_item(item: Any, outcome: Any) -> None:
        progress.item(item, outcome)
        if args.verbose:
            progress.close()
            print(output.item_line(item, outcome), file=verbose_out)

    sub.on_item = on_item
    sub.extra["verbose"] = args.verbose
    try:
        if args.dry_run:
            summary = asyncio.run(_in_process(settings, sub, options, network=cmd.network))
        else:
            from tracker.foreground import submit
            summary = submit(settings, sub, options, progress=progress, as_json=args.json)
            if summary is None:  # --enqueue printed the id
                return 0
    finally:
        progress.close()
    output.print_summary(summary, as_json=args.json)
    ok = summary.get("failed", 0) == 0 and summary.get("status", "completed") == "completed"
    return 0 if ok else 1


async def _in_process(settings: Settings, sub: Submission, options: dict[str, Any], *,
                      network: bool) -> dict[str, Any]:
    """Run here; with the network clients when the command needs them."""
    if not network:
        return await run_in_process(settings, sub, options)
    from tracker.clients import Clients
    async with Clients(settings) as clients:
        return await run_in_process(settings, sub, options, clients=clients)


# --- audit and data commands ---------------------------------------------------------------


def history(args: argparse.Namespace, settings: Settings) -> int:
    """Print the audit log, filtered."""
    since = parse_iso(args.since, "--since") if args.since else None
    types = [t.strip() for t in args.type.split(",")] if args.type else None
    unknown = [t for t in types or [] if t not in EVENT_TYPES]
    if unknown:
        raise UsageError(f"--type: unknown event type {unknown[0]!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    with _open(settings) as db:
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
    with _open(settings) as db:
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
    with _open(settings) as db:
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
    with _open(settings, must_exist=False) as db:
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


def _printed_as_json_or_empty(rows: list[dict[str, Any]], as_json: bool, empty: str) -> bool:
    """With --json, one object per line; with nothing to show, say so. True when done."""
    if as_json:
        for row in rows:
            print(output.json_line(row))
        return True
    if not rows:
        print(empty)
        return True
    return False


def status(args: argparse.Namespace, settings: Settings) -> int:
    """Queued, running and recent commands with their progress."""
    with _open(settings, must_exist=False) as db:
        rows = audit.status_rows(db)
    if _printed_as_json_or_empty(rows, args.json, "no commands yet"):
        return 0
    for row in rows:
        total = row["total"]
        row["progress"] = f"{row['processed']}/{total}" if total else str(row["processed"])
    print(output.table(rows, ["command_id", "name", "status", "progress", "updated", "failed",
                              "requested_at", "finished_at"]), end="")
    return 0


def _setup_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Cancel a queued or running command."""
    with _open(settings) as db:
        state = audit.cancel(db, args.command_id)
    print(f"{args.command_id}: {state}")
    return 0


def _setup_cancel(p: argparse.ArgumentParser) -> None:
    p.add_argument("command_id", metavar="COMMAND_ID")


def badges(args: argparse.Namespace, settings: Settings) -> int:
    """Which badges the collection has earned, and progress towards the rest."""
    from tracker.commands.badges import earned
    with _open(settings, must_exist=False) as db:
        rows = earned(db.conn)
    if _printed_as_json_or_empty(rows, args.json, "no badges yet: run tracker create-initial-badges"):
        return 0
    for row in rows:
        row["earned"] = "yes" if row["earned"] else ""
        row["progress"] = f"{row['progress']}/{row['requirement_count']}"
    print(output.table(rows, ["icon", "name", "badge_type", "rarity", "progress", "earned"]), end="")
    return 0


def daemon(args: argparse.Namespace, settings: Settings) -> int:
    """The long-running engine."""
    from tracker.engine import run_daemon
    return run_daemon(settings, until_idle=args.until_idle)


def _setup_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("--until-idle", action="store_true", help="exit once nothing is queued (for cron)")


def sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """The built-in TMDB + YTS + image simulator."""
    from tracker.sandbox.knobs import Knobs
    from tracker.sandbox.server import run_sandbox
    names = [*SANDBOX_KNOBS, "hostile_paths"]
    knobs = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    try:
        Knobs().update(knobs)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return run_sandbox(args.port, **knobs)


SANDBOX_KNOBS = {
    "synthetic_count": (int, "synthetic films besides the real ones (TV shows: a tenth)"),
    "latency_s": (float, "seconds added to each TMDB and YTS answer"),
    "rate_per_s": (float, "requests per second per host before answering 429 + Retry-After"),
    "fault_5xx_rate": (float, "share of answers that are HTTP 503 (0-1)"),
    "fault_drop_rate": (float, "share of connections dropped without an answer (0-1)"),
    "fault_truncated_rate": (float, "share of answers with a cut-off body (0-1)"),
    "fault_timeout_rate": (float, "share of answers that stall past a client's timeout (0-1)"),
    "seed": (int, "seed of the fault dice, for reproducible runs"),
    "providers_epoch": (int, "change to make some watch-provider offers come and go"),
}


def _setup_sandbox(p: argparse.ArgumentParser) -> None:
    from tracker.cli import positive_int
    p.add_argument("--port", type=positive_int, default=8765, help="port on 127.0.0.1 (default 8765)")
    for name, (kind, doc) in SANDBOX_KNOBS.items():
        p.add_argument("--" + name.replace("_", "-"), type=kind, help=doc)
    p.add_argument("--hostile-paths", action="store_true", default=None,
                   help="serve unsafe poster/logo paths for ids divisible by 7 (refusal tests)")


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole initial-setup workflow against the in-process sandbox."""
    from tracker.demo import run_demo
    return run_demo(args.home)


def _setup_nothing(p: argparse.ArgumentParser) -> None:
    pass


AUDIT_COMMANDS = (
    ("daemon", daemon, "Run the engine: resume interrupted commands, then take intents in order.", _setup_daemon),
    ("status", status, "Queued, running and recent commands with progress.", _setup_json),
    ("cancel", cancel, "Cancel a queued or running command.", _setup_cancel),
    ("history", history, "The audit log, filtered.", _setup_history),
    ("replay", replay, "Rebuild every read table from the log.", _setup_replay),
    ("verify", verify, "Check the log's integrity and that the tables equal a fresh replay.", _setup_nothing),
    ("export", export, "Write a table to stdout as json, jsonl or csv.", _setup_export),
    ("badges", badges, "Which badges the collection has earned.", _setup_json),
    ("sandbox", sandbox, "Serve the built-in TMDB + YTS + image simulator on 127.0.0.1.", _setup_sandbox),
    ("demo", demo, "Run the whole initial-setup workflow against the built-in sandbox.", _setup_nothing),
)
