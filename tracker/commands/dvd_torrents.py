"""The DVD command that asks YTS: torrent availability by IMDb id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from events.types import DvdTorrentsChecked
from projections import dvds
from tracker.commands.base import SKIPPED, UPDATED, Command, Item, Outcome, Run, arg
from tracker.commands.dvd_tmdb import DVD_ARG, checked_dvd_ids, dvd_items

RECENT_DAYS = 30


class RefreshTorrentData(Command):
    """refresh-torrent-data: YTS availability by IMDb id."""

    name = "refresh-torrent-data"
    network = True
    help = (f"Check YTS torrents for DVDs with an IMDb id; --recent-only: those added in the "
            f"last {RECENT_DAYS} days or never checked.")
    arguments = (arg("--recent-only", action="store_true",
                     help=f"only DVDs added in the last {RECENT_DAYS} days or never checked (default: every DVD)"),
                 DVD_ARG)

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """The --dvd ids must name DVDs in the collection."""
        return checked_dvd_ids(options, settings)

    def select(self, run: Run) -> Iterable[Item]:
        """DVDs with an IMDb id (recent or never checked, with --recent-only)."""
        since = None
        if run.options.get("recent_only"):
            since = (datetime.now(UTC) - timedelta(days=RECENT_DAYS)).strftime("%Y-%m-%dT%H:%M:%S")
        return dvd_items(dvds.with_imdb_id(run.db.conn, added_since=since, limit=run.limit,
                                           ids=run.options.get("dvd")))

    async def process(self, run: Run, item: Item) -> Outcome:
        """One YTS request; an outage raises (a failed item), never an empty list."""
        dvd = item.payload
        torrents = await run.clients.yts.torrents_for(dvd.imdb_id)
        event = DvdTorrentsChecked(dvd_id=dvd.id, torrents=torrents)
        new = [{"quality": t.quality, "type": t.type, "seeds": t.seeds, "peers": t.peers,
                "size_bytes": t.size_bytes, "hash": t.hash} for t in torrents]
        old = None if dvd.torrents is None else msgspec.json.decode(dvd.torrents)
        if old == new:
            return Outcome(SKIPPED, [event], reason="no change")
        return Outcome(UPDATED, [event], changes={"torrents": [len(old) if old is not None else None, len(new)]})
