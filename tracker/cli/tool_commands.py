"""Commands for trying and looking: badges, the sandbox and the demo."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from tracker.cli import output
from tracker.cli.arguments import add_json_flag, finite_float, non_negative_int, port_number
from tracker.config import Settings
from tracker.db import open_database
from tracker.errors import UsageError


def badges(args: argparse.Namespace, settings: Settings) -> int:
    """Which badges the collection has earned, and progress towards the rest."""
    from projections.badges import earned
    with open_database(settings.db_path, must_exist=False) as db:
        rows = [asdict(badge) for badge in earned(db.conn)]
    if output.rows_or_empty(rows, args.json, "no badges yet: run tracker create-initial-badges"):
        return 0
    for row in rows:
        row["earned"] = "yes" if row["earned"] else ""
        row["progress"] = f"{row['progress']}/{row['requirement_count']}"
    print(output.table(rows, ["icon", "name", "badge_type", "rarity", "progress", "earned"]), end="")
    return 0


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
    "rate_per_s": (float, "requests per second per host before answering 429 + Retry-After; none: unlimited"),
    "fault_5xx_rate": (float, "share of answers that are HTTP 503 (0-1)"),
    "fault_drop_rate": (float, "share of connections dropped without an answer (0-1)"),
    "fault_truncated_rate": (float, "share of answers with a cut-off body (0-1)"),
    "fault_timeout_rate": (float, "share of answers that stall past a client's timeout (0-1)"),
    "seed": (int, "seed of the fault dice, for reproducible runs"),
    "providers_epoch": (int, "change to make some watch-provider offers come and go"),
    "change_noise_per_day": (int, "ids TMDB's change lists name each day besides edited titles"),
}


_KNOB_TYPES = {int: non_negative_int, float: finite_float}


def _setup_sandbox(p: argparse.ArgumentParser) -> None:
    from tracker.sandbox.knobs import Knobs
    defaults = Knobs()
    p.add_argument("--port", type=port_number, default=8765, help="port on 127.0.0.1 (default 8765)")
    for name, (kind, doc) in SANDBOX_KNOBS.items():
        default = getattr(defaults, name)
        p.add_argument("--" + name.replace("_", "-"), type=_KNOB_TYPES[kind], metavar=kind.__name__.upper(),
                       help=f"{doc} (default {'none' if default is None else default})")
    p.add_argument("--hostile-paths", action="store_true", default=None,
                   help="serve unsafe poster/logo paths for ids divisible by 7, for refusal tests (default off)")


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole initial-setup workflow against the in-process sandbox."""
    from tracker.cli.demo import run_demo
    return run_demo(args.home, serve=args.serve)


def _setup_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--serve", action="store_true",
                   help="then serve the demo's web page on loopback until Ctrl-C (default off)")
    p.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                   help="where to build the demo's data (default: a new temporary folder, printed first; "
                        "$TRACKER_HOME is not used)")


# name -> (handler, setup of its arguments); tracker.cli.main lists them with their summaries.
BUILTINS = {
    "badges": (badges, add_json_flag),
    "sandbox": (sandbox, _setup_sandbox),
    "demo": (demo, _setup_demo),
}
