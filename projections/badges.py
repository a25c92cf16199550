"""The badges table: the predefined achievement badges."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from events.types import BadgeCreated
from projections.fold import Envelope, on
from projections.rows import RowCache
from projections.tables import TABLES

Badge = TABLES["badges"].row


@on(BadgeCreated)
def badge_created(rows: RowCache, env: Envelope, e: BadgeCreated) -> None:
    """A badge row, keyed by its name."""
    rows.put("badges", (e.name,), Badge(
        name=e.name, description=e.description, badge_type=e.badge_type, rarity=e.rarity,
        icon=e.icon, requirement_count=e.requirement_count, requirement_type=e.requirement_type,
        created_at=env.at))


# Named queries: the badges table, and how far the collection is along each requirement.

def _genre_count(name: str) -> str:
    return ("SELECT COUNT(*) FROM dvds WHERE EXISTS (SELECT 1 FROM json_each(dvds.genres)"
            f" WHERE lower(value) = '{name}')")


MEASURES: dict[str, str] = {
    "dvds_owned": "SELECT COUNT(*) FROM dvds",
    "genres_collected": "SELECT COUNT(DISTINCT lower(j.value)) FROM dvds, json_each(dvds.genres) j"
                        " WHERE dvds.genres IS NOT NULL",
    "genre_horror": _genre_count("horror"),
    "genre_science_fiction": _genre_count("science fiction"),
    "genre_animation": _genre_count("animation"),
    "rated_8_plus": "SELECT COUNT(*) FROM dvds WHERE rating >= 8.0",
    "votes_10000_plus": "SELECT COUNT(*) FROM dvds WHERE vote_count >= 10000",
    # several directors are stored joined with ", "; each counts
    "directors_collected": "WITH RECURSIVE split(rest, one) AS ("
                           " SELECT director || ', ', NULL FROM dvds WHERE director > ''"
                           " UNION ALL SELECT substr(rest, instr(rest, ', ') + 2),"
                           " substr(rest, 1, instr(rest, ', ') - 1) FROM split WHERE rest > '')"
                           " SELECT COUNT(DISTINCT one) FROM split WHERE one > ''",
    "decades_collected": "SELECT COUNT(DISTINCT year / 10) FROM dvds WHERE year IS NOT NULL",
}


def measure(conn: sqlite3.Connection, requirement_type: str) -> int | None:
    """How far the collection is along a requirement, or None for an unknown requirement."""
    sql = MEASURES.get(requirement_type)
    return None if sql is None else int(conn.execute(sql).fetchone()[0])


@dataclass(frozen=True, slots=True)
class EarnedBadge:
    """A badge with the collection's progress towards it (fields in ``--json`` order)."""

    name: str
    description: str
    badge_type: str
    rarity: str
    icon: str
    requirement_count: int
    requirement_type: str
    progress: int | None
    earned: bool


def earned(conn: sqlite3.Connection) -> list[EarnedBadge]:
    """Every badge in the badges table with the collection's progress and whether it is earned."""
    rows = conn.execute("SELECT name, description, badge_type, rarity, icon, requirement_count,"
                        " requirement_type FROM badges ORDER BY badge_type, requirement_count, name")
    out = []
    for name, desc, btype, rarity, icon, count, rtype in rows.fetchall():
        progress = measure(conn, rtype)
        out.append(EarnedBadge(name, desc, btype, rarity, icon, count, rtype, progress,
                               progress is not None and progress >= count))
    return out


def exists(conn: sqlite3.Connection, name: str) -> bool:
    """Whether a badge of this name has been created."""
    return conn.execute("SELECT 1 FROM badges WHERE name = ?", (name,)).fetchone() is not None
