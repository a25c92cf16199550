"""The ``tracker`` command line: a thin layer of argparse over the library.

Building the parser imports only what declares the commands (names, help, arguments); the engine,
the database and the network stack load when a command runs, so ``tracker --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import textwrap
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from tracker import __version__
from tracker.cli.arguments import positive_int
from tracker.cli.help_text import examples
from tracker.commands import COMMANDS
from tracker.config import LOG_FORMATS, LOG_LEVELS
from tracker.errors import KNOWN_ERRORS, Interrupted

if TYPE_CHECKING:
    from tracker.config import Settings


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """One line: which command, what is wrong."""
        if message.startswith("argument COMMAND: invalid choice: "):
            wrong = message.split(": ")[2].split(" (choose")[0]
            message = f"unknown command {wrong} (see tracker --help)"
        self.exit(2, f"{self.prog}: error: {message}\n")



# Built-in commands: name -> (module under tracker.cli holding its handler and arguments, the summary
# `tracker --help` lists). Only the module of the command being run is imported.
BUILTINS: dict[str, tuple[str, str]] = {
    "daemon": ("engine_commands", "Run the engine: resume interrupted commands, then take intents in order."),
    "status": ("engine_commands", "Queued, running and recent commands with progress."),
    "cancel": ("engine_commands", "Cancel a queued or running command."),
    "schedule": ("engine_commands", "The daemon's schedule: each entry, its last run and next due time."),
    "history": ("audit_commands", "The audit log, filtered."),
    "replay": ("audit_commands", "Rebuild every read table from the log."),
    "verify": ("audit_commands", "Check the log's integrity and that the tables equal a fresh replay."),
    "export": ("audit_commands", "Write a table to stdout as json, jsonl or csv."),
    "checkpoint": ("audit_commands", "Save the read tables now beside the log (time travel starts there)."),
    "backup": ("audit_commands", "Copy the database consistently (even while a daemon writes), checked."),
    "badges": ("tool_commands", "Which badges the collection has earned."),
    "sandbox": ("tool_commands", "Serve the built-in TMDB + YTS + image simulator on 127.0.0.1."),
    "demo": ("tool_commands", "Run the whole initial-setup workflow against the built-in sandbox."),
    "list": ("collection_commands", "The DVDs as a table: id, title, year, TMDB id, IMDb id, certificate, "
             "director, torrents."),
    "show": ("collection_commands", "Every field of one DVD, its locked fields and its last five changes."),
}


def _globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """--home and --debug, accepted before or after the command name."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--home", metavar="DIR", default=default,
                        help="data folder (default $TRACKER_HOME, else ~/.local/share/tracker)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="show tracebacks and debug logs (default off)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=default,
                        help="log lines on stderr: console (key=value) or json (default console)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=default,
                        help="least level logged (default warning; info for the daemon)")


def _alias(name: str) -> str:
    """The Django-style spelling of a command (``match_tmdb_ids``), accepted as well."""
    return name.replace("-", "_")


def command_names() -> list[str]:
    """Every name the parser accepts as a command, aliases included, in listing order."""
    names = []
    for name in (*COMMANDS, *BUILTINS):
        names += [name, _alias(name)] if _alias(name) != name else [name]
    return names


_VALUED_GLOBALS = ("--home", "--log-format", "--log-level")  # global options followed by a value


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The command word in ``argv``: the first word that is not an option nor a global option's value."""
    words = iter(argv)
    for word in words:
        if _takes_value(word):  # --log-level info, --home DIR (or an abbreviation): skip the value
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _takes_value(word: str) -> bool:
    """Whether ``word`` is a global option (or argparse's abbreviation of one) whose value follows it."""
    # Longer than "--h", which argparse reads as ambiguous between --help and --home.
    return len(word) > 3 and any(option.startswith(word) for option in _VALUED_GLOBALS)


def _describe(p: argparse.ArgumentParser, name: str, description: str) -> None:
    """The command's description (wrapped) and its examples, shown by ``tracker NAME --help``."""
    p.description = textwrap.fill(description, width=min(shutil.get_terminal_size().columns, 100) - 2)
    p.epilog = examples(name)
    p.formatter_class = argparse.RawDescriptionHelpFormatter


def _data_command(p: argparse.ArgumentParser, name: str) -> None:
    """The arguments of a registered command, with the flags every data command shares."""
    cmd = COMMANDS[name]
    _describe(p, name, cmd.help)
    for a in cmd.arguments:
        p.add_argument(*a.flags, **a.kwargs)
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing (default off)")
    p.add_argument("--verbose", action="store_true",
                   help="one line per item with its field-by-field changes (default: failures only)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (default text)")
    if cmd.walks_items:
        p.add_argument("--limit", type=positive_int, metavar="N", help="process at most N items (default all)")
    p.add_argument("--enqueue", action="store_true",
                   help="append the intent, print its command id and exit; a daemon runs it (default: run now)")
    p.set_defaults(handler=_run_data_command)


def _run_data_command(args: argparse.Namespace, settings: Settings) -> int:
    """Hand over to the data-command runner, importing the engine only now."""
    if args.command == "identify":  # without --tmdb-id it only lists TMDB's candidates: no intent
        from tracker.cli.collection_commands import identify
        return identify(args, settings)
    from tracker.cli.data_command import run_data_command
    return run_data_command(args, settings)


def _builtin(p: argparse.ArgumentParser, name: str) -> None:
    """The arguments and handler of a built-in command, from its module."""
    module, summary = BUILTINS[name]
    handler, setup = importlib.import_module(f"tracker.cli.{module}").BUILTINS[name]
    _describe(p, name, summary)
    setup(p)
    p.set_defaults(handler=handler)


def build_parser(argv: Sequence[str] = ()) -> Parser:
    """The command line; only the command named in ``argv`` gets its arguments (and imports its code)."""
    parser = Parser(prog="tracker", description="An event-sourced tracker for a DVD collection "
                    "and a movie/TV catalogue, enriched from TMDB and checked against YTS.")
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    _globals(parser, suppress=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    chosen = _chosen_command(argv)
    entries = [(name, COMMANDS.summary(name), _data_command) for name in COMMANDS]
    entries += [(name, summary, _builtin) for name, (_, summary) in BUILTINS.items()]
    for name, summary, configure in entries:
        aliases = [_alias(name)] if _alias(name) != name and configure is _data_command else []
        # "resolve": a command may redefine a global option's help (demo's --home)
        p = sub.add_parser(name, aliases=aliases, help=summary, description=summary, conflict_handler="resolve")
        if chosen in (name, *aliases):
            _globals(p, suppress=True)
            configure(p, name)
        p.set_defaults(command=name)
    return parser


def _default_level(command: str, debug: bool) -> str | None:
    """A daemon logs its life at info; other commands speak through their output instead."""
    if debug:
        return "debug"
    return "info" if command == "daemon" else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, configure, run; errors as one line with their exit code.

    Ctrl-C at any moment, even while modules are still loading, is one line and exit 130.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("tracker: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    """Parse, configure, run."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    if extra:  # named by the command it was given to, not by the top-level parser
        print(f"tracker {args.command}: error: unrecognized arguments: {' '.join(extra)}",
              file=sys.stderr)
        return 2
    # Settings and logging load only once a command is to run: `tracker --help` needs neither.
    from tracker.config import load_settings
    from tracker.log import configure_logging, redact
    debug = bool(getattr(args, "debug", False))
    secrets: list[str] = []
    try:
        settings = load_settings(home=getattr(args, "home", None),
                                 log_format=getattr(args, "log_format", None),
                                 log_level=getattr(args, "log_level", None))
        secrets = settings.secrets()
        configure_logging(debug=debug, secrets=secrets, fmt=settings.log_format,
                          level=settings.log_level or _default_level(args.command, debug))
        return args.handler(args, settings)
    except KNOWN_ERRORS as exc:
        if debug:
            _print_traceback(secrets)
        kind = "" if isinstance(exc, Interrupted) else "error: "
        print(f"tracker {args.command}: {kind}{redact(str(exc), secrets)}", file=sys.stderr)
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
            _print_traceback(secrets)
        detail = redact(f"{type(exc).__name__}: {exc}", secrets)
        print(f"tracker {args.command}: internal error: {detail} (run with --debug for details)",
              file=sys.stderr)
        return 1


def _print_traceback(secrets: list[str]) -> None:
    """--debug's traceback, with every secret masked (those of the environment too, when the
    settings themselves could not load)."""
    from tracker.log import redact
    known = secrets or [v for v in (os.environ.get("TMDB_API_KEY"), os.environ.get("TMDB_ACCESS_TOKEN")) if v]
    print(redact(traceback.format_exc(), known), file=sys.stderr, end="")


if __name__ == "__main__":
    sys.exit(main())
