"""The ``tracker`` command line: a thin layer of argparse over the library."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from tracker import __version__
from tracker.cli.arguments import positive_int
from tracker.commands import COMMANDS
from tracker.config import Settings, load_settings
from tracker.errors import KNOWN_ERRORS
from tracker.log import configure_logging, redact

Handler = Callable[[argparse.Namespace, Settings], int]


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """One line: which command, what is wrong."""
        if message.startswith("argument COMMAND: invalid choice: "):
            wrong = message.split(": ")[2].split(" (choose")[0]
            message = f"unknown command {wrong} (see tracker --help)"
        self.exit(2, f"{self.prog}: error: {message}\n")



def _globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """--home and --debug, accepted before or after the command name."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--home", metavar="DIR", default=default,
                        help="data folder (default $TRACKER_HOME or ~/.local/share/tracker)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="show tracebacks and debug logs")


def _data_command(sub: argparse._SubParsersAction, name: str) -> None:
    """A subcommand for a registered command, with its Django alias and the common flags."""
    cmd = COMMANDS[name]
    alias = name.replace("-", "_")
    p = sub.add_parser(name, aliases=[alias] if alias != name else [], help=cmd.help,
                       description=cmd.help)
    for a in cmd.arguments:
        p.add_argument(*a.flags, **a.kwargs)
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--verbose", action="store_true", help="show field-by-field changes")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    if cmd.walks_items:
        p.add_argument("--limit", type=positive_int, metavar="N", help="process at most N items")
    p.add_argument("--enqueue", action="store_true",
                   help="append the intent, print its command id and exit (a daemon runs it)")
    _globals(p, suppress=True)
    from tracker.cli.collection_commands import identify
    from tracker.cli.data_command import run_data_command
    # identify without --tmdb-id only lists TMDB's candidates: it is answered without an intent
    p.set_defaults(handler=identify if name == "identify" else run_data_command, command=name)


def build_parser() -> Parser:
    """The whole command line."""
    from tracker.cli import audit_commands, collection_commands, engine_commands, tool_commands
    parser = Parser(prog="tracker", description="An event-sourced tracker for a DVD collection "
                    "and a movie/TV catalogue, enriched from TMDB and checked against YTS.")
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    _globals(parser, suppress=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        _data_command(sub, name)
    builtins = (*engine_commands.BUILTINS, *audit_commands.BUILTINS, *tool_commands.BUILTINS,
                *collection_commands.BUILTINS)
    for name, handler, doc, setup in builtins:
        p = sub.add_parser(name, help=doc, description=doc)
        setup(p)
        _globals(p, suppress=True)
        p.set_defaults(handler=handler, command=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, configure, run; errors as one line with their exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    if extra:  # named by the command it was given to, not by the top-level parser
        print(f"tracker {args.command}: error: unrecognized arguments: {' '.join(extra)}",
              file=sys.stderr)
        return 2
    debug = bool(getattr(args, "debug", False))
    secrets: list[str] = []
    try:
        settings = load_settings(home=getattr(args, "home", None))
        secrets = settings.secrets()
        configure_logging(debug=debug, secrets=secrets)
        return args.handler(args, settings)
    except KNOWN_ERRORS as exc:
        if debug:
            traceback.print_exc()
        print(f"tracker {args.command}: error: {redact(str(exc), secrets)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"tracker {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``tracker export dvds | head``): not an error worth a word
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the user gets one line, --debug gets the traceback
        if debug:
            traceback.print_exc()
        detail = redact(f"{type(exc).__name__}: {exc}", secrets)
        print(f"tracker {args.command}: internal error: {detail} (run with --debug for details)",
              file=sys.stderr)
        return 1



if __name__ == "__main__":
    sys.exit(main())
