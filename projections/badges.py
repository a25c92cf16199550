"""The badges table: the predefined achievement badges."""

from __future__ import annotations

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
