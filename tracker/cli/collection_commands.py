"""Seeing the collection: list and show (read-only), and identify's list of TMDB candidates."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from projections.dvds import decoded, dvd_row
from projections.export import FIELDS, export_rows
from tracker import changelog
from tracker.cli import output
from tracker.cli.arguments import positive_int
from tracker.commands import matching
from tracker.commands.base import TmdbCommand
from tracker.commands.curation import held_dvd
from tracker.config import Settings
from tracker.db import open_database
from tracker.errors import UsageError

LIST_COLUMNS = ("id", "title", "year", "tmdb_id", "imdb_id", "certificate", "director", "torrents")
MISSABLE = tuple(f for f in FIELDS["dvds"] if f not in ("id", "title", "added_at", "locked_fields"))
SHOWN_CHANGES = 5
TITLE_WIDTH = 44


def _missing(value: Any) -> bool:
    return value is None or value == ""


def list_dvds(args: argparse.Namespace, settings: Settings) -> int:
    """The DVDs as a table (or, with --json, one array of dvds export objects)."""
    if args.missing and args.missing not in MISSABLE:
        raise UsageError(f"--missing: {args.missing!r} is not a DVD field (one of {', '.join(MISSABLE)})")
    wanted = matching.fold(args.search) if args.search else None
    with open_database(settings.db_path, must_exist=False) as db:
        rows = [r for r in export_rows(db.conn, "dvds")
                if (not args.missing or _missing(r[args.missing]))
                and (wanted is None or wanted in matching.fold(r["title"])
                     or wanted in matching.fold(r["director"] or ""))]
    shown = rows[: args.limit] if args.limit else rows
    if args.json:
        output.write_export(shown, "json")
        return 0
    if not rows:
        print("no DVDs match" if args.search or args.missing else
              "the collection is empty (tracker add TITLE, or tracker import FILE.csv)")
        return 0
    print(output.table([_list_row(r) for r in shown], list(LIST_COLUMNS)), end="")
    cut = f" (first {len(shown)} shown, {len(rows) - len(shown)} more)" if len(shown) < len(rows) else ""
    print(f"{len(rows)} DVD{'s' if len(rows) != 1 else ''}{cut}")
    return 0


def _list_row(r: dict[str, Any]) -> dict[str, Any]:
    """A DVD as one table row: the title cut to fit, torrents counted (- when never checked)."""
    title = r["title"] if len(r["title"]) <= TITLE_WIDTH else r["title"][: TITLE_WIDTH - 3] + "..."
    torrents = "-" if r["torrents_checked_at"] is None else len(r["torrents"] or [])
    return {**r, "title": title, "certificate": r["uk_certification"], "torrents": torrents}


def _setup_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--search", metavar="TEXT", help="titles (or directors) containing TEXT, "
                   "ignoring case, accents and punctuation (default: every DVD)")
    p.add_argument("--missing", metavar="FIELD",
                   help="DVDs without a value for FIELD (tmdb_id: unmatched; default: any)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="show at most N DVDs (default all)")
    p.add_argument("--json", action="store_true", help="one JSON array of dvds export objects (default: a table)")


def show(args: argparse.Namespace, settings: Settings) -> int:
    """Every field of one DVD, its locked fields and its last changes."""
    with open_database(settings.db_path) as db:
        row = dvd_row(db.conn, args.dvd_id)
        if row is None:
            raise UsageError(f"no DVD {args.dvd_id} (tracker list shows the ids)")
        dvd = _one(row)
        recent = changelog.changes(db, dvd_id=args.dvd_id, limit=SHOWN_CHANGES)
    if args.json:
        print(output.json_line({**dvd, "removed_at": row["removed_at"], "merged_into": row["merged_into"],
                                "changes": [c.as_dict() for c in recent]}))
        return 0
    year = f" ({dvd['year']})" if dvd["year"] else ""
    print(f"DVD {dvd['id']}: {dvd['title']}{year}")
    if row["removed_at"]:
        into = f", merged into DVD {row['merged_into']}" if row["merged_into"] else ""
        print(f"  removed at {row['removed_at']}{into}")
    locks = set(dvd["locked_fields"])
    for name in FIELDS["dvds"]:
        if name in ("id", "title", "locked_fields"):
            continue
        mark = "  (locked)" if name in locks else ""
        print(f"  {name:<22} {_shown(name, dvd[name])}{mark}")
    print(f"  {'locked_fields':<22} {', '.join(dvd['locked_fields']) or '-'}")
    print(f"last {len(recent)} change{'s' if len(recent) != 1 else ''} (newest first; "
          f"tracker history --dvd {dvd['id']} for all):" if recent else "no changes recorded")
    for change in recent:
        print("  " + changelog.line(change))
    return 0


def _one(row: dict[str, Any]) -> dict[str, Any]:
    """One DVD row as the dvds export has it (a removed one too)."""
    row = decoded(row)
    out = {f: row.get(f) for f in FIELDS["dvds"]}
    out["locked_fields"] = out["locked_fields"] or []
    return out


def _shown(name: str, value: Any) -> str:
    """A field's value for people."""
    if name == "torrents" and isinstance(value, list):
        return ", ".join(f"{t['quality']} {t['type']} ({t['seeds']} seeds)" for t in value) or "none on YTS"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return "-" if value is None else ('""' if value == "" else str(value))


def _setup_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("dvd_id", type=int, metavar="ID", help="the DVD's id (tracker list shows them)")
    p.add_argument("--json", action="store_true", help="one JSON object (default text)")


def identify(args: argparse.Namespace, settings: Settings) -> int:
    """identify: with --tmdb-id, the data command; without, TMDB's candidates for the title."""
    if args.tmdb_id is not None:
        from tracker.cli.data_command import run_data_command
        return run_data_command(args, settings)
    TmdbCommand().validate({}, settings)  # no credentials: exit 2 before anything else
    row = held_dvd(settings, args.dvd_id)
    hits = asyncio.run(_search(settings, row["title"]))
    ranked = matching.candidates(hits, row["title"], count=10)
    if args.json:
        print(output.json_line([matching.hit_dict(h) for h in ranked]))
        return 0
    year = f" ({row['year']})" if row["year"] else ""
    if not ranked:
        print(f"TMDB has no candidates for DVD {row['id']}: {row['title']}{year}; "
              f"fix the title with tracker edit {row['id']} --title ...")
        return 0
    print(f"TMDB candidates for DVD {row['id']}: {row['title']}{year}")
    cells = [{"tmdb_id": h.id, "title": h.title, "year": h.year, "popularity": h.popularity,
              "": "same year" if row["year"] and h.year == row["year"] else ""} for h in ranked]
    print(output.table(cells, ["tmdb_id", "title", "year", "popularity", ""]), end="")
    print(f"set one with: tracker identify {row['id']} --tmdb-id {ranked[0].id}")
    return 0


async def _search(settings: Settings, title: str) -> list[Any]:
    """One TMDB search for the title, every year."""
    from tracker.clients.session import Clients
    async with Clients(settings) as clients:
        return await clients.tmdb.search_movie(matching.search_query(title))


# name -> (handler, setup of its arguments); tracker.cli.main lists them with their summaries.
BUILTINS = {
    "list": (list_dvds, _setup_list),
    "show": (show, _setup_show),
}
