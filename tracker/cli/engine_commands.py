"""The engine's commands: daemon, status and cancel."""

from __future__ import annotations

import argparse

from tracker import audit
from tracker.cli import output
from tracker.cli.arguments import add_json_flag
from tracker.config import DEFAULT_HTTP, Settings, http_address
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
    return run_daemon(settings, until_idle=args.until_idle, http=args.http or settings.http)


def _http_flag(text: str) -> str | None:
    """--http's value: HOST:PORT, checked."""
    try:
        return http_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT such as {DEFAULT_HTTP}") from None


def _setup_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("--until-idle", action="store_true",
                   help="exit once nothing is queued, for cron (default: keep running)")
    p.add_argument("--http", nargs="?", const=DEFAULT_HTTP, type=_http_flag, metavar="HOST:PORT",
                   help=f"serve the read-only web page, JSON API, /healthz and /metrics "
                        f"(alone: {DEFAULT_HTTP}; default: `http` in tracker.toml, else no web page)")


# name -> (handler, setup of its arguments); tracker.cli.main lists them with their summaries.
BUILTINS = {
    "daemon": (daemon, _setup_daemon),
    "status": (status, add_json_flag),
    "cancel": (cancel, _setup_cancel),
}
