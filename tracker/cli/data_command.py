"""Running a data-changing command from the CLI: validate, run or queue, print its summary."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from projections.commands import Status
from tracker.cli import output
from tracker.cli.arguments import command_options
from tracker.commands import COMMANDS
from tracker.config import Settings
from tracker.engine.submit import Submission, run_in_process, validated


def run_data_command(args: argparse.Namespace, settings: Settings) -> int:
    """Validate, run (here, via the engine, or queued), print the summary; 0, or 1 if any failed."""
    progress = output.Progress(args.command)
    verbose_out = sys.stderr if args.json else sys.stdout
    cmd = COMMANDS[args.command]
    # one-DVD commands (edit, remove, ...) show their change without --verbose, here or followed
    show_items = args.verbose or (cmd.shows_changes and not args.json)

    def on_items(done: list[tuple[Any, Any]]) -> None:
        progress.items(done)
        if show_items:
            progress.close()
            for item, outcome in done:
                output.print_line_or_quiet(output.item_line(item, outcome), verbose_out)

    sub = Submission(args.command, command_options(args), dry_run=args.dry_run,
                     enqueue=getattr(args, "enqueue", False), verbose=show_items,
                     on_items=on_items)
    options = validated(settings, sub)
    try:
        if args.dry_run:
            summary = asyncio.run(_in_process(settings, sub, options, network=cmd.network))
        else:
            from tracker.cli.run_or_follow import submit
            summary = submit(settings, sub, options, progress=progress, as_json=args.json)
            if summary is None:  # --enqueue printed the id
                return 0
    finally:
        progress.close()
    headline = None if args.json else cmd.headline(summary)
    if headline:
        print(headline)
    output.print_summary(summary, as_json=args.json, verbose=args.verbose)
    ok = summary.get("failed", 0) == 0 and summary.get("status", Status.COMPLETED) == Status.COMPLETED
    return 0 if ok else 1


async def _in_process(settings: Settings, sub: Submission, options: dict[str, Any], *,
                      network: bool) -> dict[str, Any]:
    """Run here; with the network clients when the command needs them."""
    if not network:
        return await run_in_process(settings, sub, options)
    from tracker.clients.session import Clients
    async with Clients(settings) as clients:
        return await run_in_process(settings, sub, options, clients=clients)
