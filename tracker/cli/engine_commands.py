"""The engine's commands: daemon, status and cancel."""

from __future__ import annotations

import argparse
from typing import Any

from projections.commands import Status
from tracker import audit
from tracker.cli import output
from tracker.cli.arguments import add_json_flag
from tracker.config import DEFAULT_HTTP, Settings, http_address
from tracker.db import open_database
from tracker.engine.wake import poke
from tracker.engine_lock import EngineLock
from tracker.errors import UsageError


def status(args: argparse.Namespace, settings: Settings) -> int:
    """Queued, running and recent commands with their progress, then the next scheduled ones."""
    with open_database(settings.db_path, must_exist=False) as db:
        rows = audit.status_rows(db)
        holder = EngineLock(settings.db_path).holder()
        audit.mark_interrupted(rows, holder)
        upcoming = [] if args.json else _next_scheduled(settings, db, _running_now(holder))
    if not output.rows_or_empty(rows, args.json, "no commands yet"):
        for row in rows:
            total = row["total"]
            row["progress"] = f"{row['processed']}/{total}" if total else str(row["processed"])
        print(output.table(rows, ["command_id", "name", "status", "progress", "updated", "failed",
                                  "requested_at", "finished_at"]), end="")
    for line in upcoming:
        print(line)
    return 0




STATUS_NEXT = 3  # scheduled entries `status` shows


def _running_now(holder: Any) -> str | None:
    """The id of the command a live engine is running, if any (the lock tells, not the log)."""
    return holder.command_id if holder is not None else None


def _next_scheduled(settings: Settings, db: Any, running_now: str | None) -> list[str]:
    """Lines naming the schedule's next due entries (or why there are none)."""
    from tracker.engine.schedule import Scheduler, load_schedule
    try:
        schedule = load_schedule(settings)
    except UsageError as exc:
        return [f"schedule: {exc}"]
    if not schedule.entries:
        return ["schedule: off (schedule = [] in tracker.toml)"]
    scheduler = Scheduler(schedule)
    states = sorted(scheduler.states(db), key=lambda s: s.next_due)
    now = scheduler.clock()
    shown = [f"  {s.entry.label}: {_due_text(s, now, running_now)}" for s in states[:STATUS_NEXT]]
    more = len(states) - STATUS_NEXT
    return ["next scheduled (tracker schedule shows all):", *shown,
            *([f"  ... and {more} more"] if more > 0 else [])]


def _shown_status(state: Any, running_now: str | None) -> str | None:
    """The entry's last status as people should read it: a "running" one no engine runs is
    interrupted (killed or stopped; the next run or daemon start resumes it)."""
    if state.last_status == Status.RUNNING and state.last_command_id != running_now:
        return Status.INTERRUPTED
    return state.last_status


def _due_text(state: Any, now: Any, running_now: str | None) -> str:
    """When an entry is due, as people read it."""
    if state.pending:
        shown = _shown_status(state, running_now)
        if shown == Status.INTERRUPTED:
            return f"interrupted (command {state.last_command_id}; resumes on the next run)"
        return f"{shown} now (command {state.last_command_id})"
    if state.next_due <= now:
        return "due now"
    return f"due {format_at(state.next_due)} (in {format_wait(state.next_due - now)})"


def format_at(moment: Any) -> str:
    """A UTC time as ``2026-11-28 10:00Z``."""
    return moment.strftime("%Y-%m-%d %H:%MZ")


def format_wait(delta: Any) -> str:
    """A wait as ``3d 4h``, ``5h 12m``, ``7m`` or ``40s``."""
    total_s = int(delta.total_seconds())
    days, rest = divmod(total_s, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def schedule(args: argparse.Namespace, settings: Settings) -> int:
    """Each scheduled entry, its last run and its next due time."""
    from tracker.engine.schedule import Scheduler, load_schedule
    plan = load_schedule(settings)
    with open_database(settings.db_path, must_exist=False) as db:
        scheduler = Scheduler(plan)
        states = scheduler.states(db)
    running_now = _running_now(EngineLock(settings.db_path).holder())
    now = scheduler.clock()
    rows = [s.as_row(now) for s in states]
    for row, state in zip(rows, states, strict=True):
        row["last_status"] = _shown_status(state, running_now)
    if args.json:
        for row in rows:
            print(output.json_line(row))
        return 0
    print(_schedule_title(plan))
    for row, state in zip(rows, states, strict=True):
        row["last_run"] = (f"{format_at(state.last_run_at)} ({_shown_status(state, running_now)})"
                           if state.last_run_at else "never")
        row["next_due"] = _due_text(state, now, running_now)
    if rows:
        print(output.table(rows, ["command", "every", "last_run", "next_due"]), end="")
    return 0


def _schedule_title(plan: Any) -> str:
    """Where the schedule comes from, and what was left out of the default routine."""
    if plan.source == "off":
        return "schedule: off (schedule = [] in tracker.toml); tracker daemon runs only what is queued"
    title = f"schedule: {plan.source}" + (" (no [[schedule]] in tracker.toml)"
                                          if plan.source == "default routine" else "")
    if plan.left_out:
        title += f"; left out without TMDB credentials: {', '.join(plan.left_out)}"
    return title



def cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Cancel a queued or running command."""
    with open_database(settings.db_path) as db:
        state = audit.cancel(db, args.command_id)
    poke(settings.db_path)  # the engine stops starting its items now, not at its next poll
    print(f"{args.command_id}: {state}")
    return 0


def _setup_cancel(p: argparse.ArgumentParser) -> None:
    p.add_argument("command_id", metavar="COMMAND_ID")


def daemon(args: argparse.Namespace, settings: Settings) -> int:
    """The long-running engine."""
    from tracker.engine.daemon import run_daemon
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
    "schedule": (schedule, add_json_flag),
}
