"""Every command tracker runs, by name."""

from __future__ import annotations

from tracker.commands.badges import CreateInitialBadges
from tracker.commands.base import Command
from tracker.commands.catalogue import PopulateDb, PopulateGenres, UpdateDetails
from tracker.commands.collection import Add, CleanupUnusedPosters, Import, LoadSampleData, NormalizeUkCertifications
from tracker.commands.curation import Edit, Identify, Merge, Remove
from tracker.commands.dvd_tmdb import MatchTmdbIds, PopulateImdbIds, RefreshMissingDetails
from tracker.commands.dvd_torrents import RefreshTorrentData
from tracker.commands.providers import GetProvidersLogo, UpdateWatchProviders

COMMANDS: dict[str, Command] = {c.name: c for c in (
    Add(), Import(), LoadSampleData(), MatchTmdbIds(), PopulateImdbIds(), RefreshMissingDetails(),
    NormalizeUkCertifications(), RefreshTorrentData(), CleanupUnusedPosters(), CreateInitialBadges(),
    PopulateGenres(), PopulateDb(), UpdateDetails(), UpdateWatchProviders(), GetProvidersLogo(),
    Edit(), Remove(), Merge(), Identify(),
)}

