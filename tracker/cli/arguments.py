"""Argument types and helpers shared by the parser and the handlers."""

from __future__ import annotations

import argparse
from typing import Any

# The flag types live beside the other value checks; imported here for the parser's use.
from tracker.values import finite_float, non_negative_int, port_number, positive_int  # noqa: F401

# Flags every command shares; what is left of the parsed namespace is the command's own options.
COMMON = ("dry_run", "verbose", "json", "enqueue", "home", "debug", "log_format", "log_level",
          "handler", "command")

def command_options(args: argparse.Namespace) -> dict[str, Any]:
    """The command's own options from parsed arguments (common flags left out)."""
    return {k: v for k, v in vars(args).items() if k not in COMMON}


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """--json for listing commands: one JSON object per line."""
    parser.add_argument("--json", action="store_true", help="one JSON object per line (default: a table)")
