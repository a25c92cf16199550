"""Which events can change a read table: time travel for one table folds only those.

Every fold of a module touches (reads or writes) only that module's tables below. A table's
scope is every module touching it, closed over the tables those touch, so no fold in scope
reads a row that a fold out of scope would have changed. tests/test_projections.py checks a
fold so scoped against a full replay, for every table, over generated logs of every type.
"""

from __future__ import annotations

from typing import NamedTuple

from events.types import RENAMED
from projections.fold import HANDLERS
from projections.tables import TABLES

# The tables each module's folds read or write.
TOUCHES: dict[str, tuple[str, ...]] = {
    "projections.dvds": ("dvds",),
    "projections.catalogue": ("genres", "movies", "tv"),  # with when a title's offers were checked
    "projections.providers": ("providers", "availability"),
    "projections.badges": ("badges",),
    "projections.commands": ("commands", "command_items"),
    "projections.upkeep": ("sync_points",),
}


def modules(table: str) -> set[str]:
    """The modules whose folds can change ``table``, with those touching what they touch."""
    tables, found = {table}, set()
    while True:
        more = {m for m, touched in TOUCHES.items() if tables.intersection(touched)} - found
        if not more:
            return found
        found |= more
        tables |= {t for m in more for t in TOUCHES[m]}


def event_types(table: str) -> tuple[str, ...]:
    """The type tags, as stored (old names of renamed types too), whose folds can change ``table``."""
    scope = modules(table)
    tags = {t.__name__ for t, folds in HANDLERS.items() if any(f.__module__ in scope for f in folds)}
    tags |= {old for old, new in RENAMED.items() if new in tags}
    return tuple(sorted(tags))


class Group(NamedTuple):
    """Read tables no fold outside the group touches: folded apart, they come out the same."""

    tables: tuple[str, ...]
    modules: frozenset[str]  # the modules whose folds touch them
    tags: tuple[str, ...]  # the type tags, as stored, those folds take


def groups() -> list[Group]:
    """The read tables split into groups that share no fold, each with its modules and tags."""
    out: list[Group] = []
    seen: set[str] = set()
    for table in TABLES:
        if table in seen:
            continue
        mods = modules(table)
        tables = tuple(t for t in TABLES if any(t in TOUCHES[m] for m in mods))
        seen.update(tables)
        out.append(Group(tables, frozenset(mods), event_types(table)))
    return out
