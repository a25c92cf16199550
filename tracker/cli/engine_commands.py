"""The engine's commands: daemon, status and cancel."""

from __future__ import annotations

import argparse

from tracker import audit
from tracker.cli import output
from tracker.cli.arguments import add_json_flag
from tracker.config import Settings
from tracker.db import open_database


def status(args: argparse.Namespace, settings: Settings) -> int:
    """Queued, running and recent commands with their progress."""
    with open_database(settings.db_path, must_exist=False) as db:
        rows = audit.status_rows(db)
    if output.rows_or_empty(rows, args.json, "no commands yet"):
        return 0
    for row in rows:
        total = row["total"]
        row["progress"] = f"{row['processed']}/{total}" if total else str(row["processed"])
    print(output.table(rows, ["command_id", "name", "status", "progress", "updated", "failed",
                              "requested_at", "finished_at"]), end="")
    return 0



def cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Cancel a queued or running command."""
    with open_database(settings.db_path) as db:
        state = audit.cancel(db, args.command_id)
    print(f"{args.command_id}: {state}")
    return 0


def _setup_cancel(p: argparse.ArgumentParser) -> None:
    p.add_argument("command_id", metavar="COMMAND_ID")


def daemon(args: argparse.Namespace, settings: Settings) -> int:
    """The long-running engine."""
    from tracker.engine.engine import run_daemon
    return run_daemon(settings, until_idle=args.until_idle)


def _setup_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("--until-idle", action="store_true", help="exit once nothing is queued (for cron)")


BUILTINS = (
    ("daemon", daemon, "Run the engine: resume interrupted commands, then take intents in order.", _setup_daemon),
    ("status", status, "Queued, running and recent commands with progress.", add_json_flag),
    ("cancel", cancel, "Cancel a queued or running command.", _setup_cancel),
)
