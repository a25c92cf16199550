"""The predefined achievement badges and the command that creates them."""

from __future__ import annotations

from collections.abc import Iterable

from events.types import BadgeCreated
from projections import badges as badge_table
from tracker.commands.base import SKIPPED, UPDATED, Command, Item, Outcome, Run

# A badge's definition is the event that creates it: name, description, badge_type (milestone,
# genre, critic, explorer), rarity (bronze, silver, gold, platinum), icon, requirement_count and
# requirement_type (what projections.badges measures the collection by).
Badge = BadgeCreated


BADGES: tuple[Badge, ...] = (
    Badge("First Disc", "Add your first DVD to the collection", "milestone", "bronze", "💿", 1, "dvds_owned"),
    Badge("Shelf Starter", "Own 10 DVDs", "milestone", "bronze", "📀", 10, "dvds_owned"),
    Badge("Collector", "Own 50 DVDs", "milestone", "silver", "🗄️", 50, "dvds_owned"),
    Badge("Archivist", "Own 250 DVDs", "milestone", "gold", "🏛️", 250, "dvds_owned"),
    Badge("Cinematheque", "Own 1,000 DVDs", "milestone", "platinum", "🏆", 1000, "dvds_owned"),
    Badge("Genre Taster", "Own films from 3 different genres", "genre", "bronze", "🎭", 3, "genres_collected"),
    Badge("Genre Hopper", "Own films from 8 different genres", "genre", "silver", "🎬", 8, "genres_collected"),
    Badge("Genre Master", "Own films from 15 different genres", "genre", "gold", "🌈", 15, "genres_collected"),
    Badge("Horror Hound", "Own 5 horror films", "genre", "silver", "🧛", 5, "genre_horror"),
    Badge("Stargazer", "Own 5 science fiction films", "genre", "silver", "🚀", 5, "genre_science_fiction"),
    Badge("Toon Town", "Own 5 animated films", "genre", "bronze", "🐭", 5, "genre_animation"),
    Badge("Good Taste", "Own 5 films rated 8.0 or more on TMDB", "critic", "bronze", "⭐", 5, "rated_8_plus"),
    Badge("Critic's Darling", "Own 25 films rated 8.0 or more on TMDB", "critic", "gold", "🌟", 25, "rated_8_plus"),
    Badge("Crowd Pleaser", "Own 10 films with 10,000 votes or more on TMDB", "critic", "silver", "👥", 10,
          "votes_10000_plus"),
    Badge("Auteur Spotter", "Own films by 5 different directors", "explorer", "bronze", "🎥", 5, "directors_collected"),
    Badge("Director's Cut", "Own films by 25 different directors", "explorer", "gold", "🎞️", 25, "directors_collected"),
    Badge("Time Traveller", "Own films from 5 different decades", "explorer", "silver", "⏳", 5, "decades_collected"),
    Badge("Century Spanner", "Own films from 9 different decades", "explorer", "platinum", "🕰️", 9, "decades_collected"),
)


class CreateInitialBadges(Command):
    """create-initial-badges: the predefined badges, idempotent."""

    name = "create-initial-badges"
    help = "Create the predefined achievement badges (running it again adds nothing twice)."
    walks_items = False

    def select(self, run: Run) -> Iterable[Item]:
        """Every predefined badge."""
        return [Item(f"badge:{b.name}", b) for b in BADGES]

    async def process(self, run: Run, item: Item) -> Outcome:
        """Create a badge unless one of that name exists."""
        badge: Badge = item.payload
        if badge_table.exists(run.db.conn, badge.name):
            return Outcome(SKIPPED, reason="exists")
        return Outcome(UPDATED, [badge], changes={"badge": [None, badge.name]})
