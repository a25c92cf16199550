"""Every command tracker runs, by name: where it lives and a one-line summary.

A command's module is imported the first time the command is looked up, so listing the commands
(``tracker --help``) or running a built-in one loads no command code and no network client.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.commands.base import Command

# name -> (module under tracker.commands, class, the summary `tracker --help` lists), in listing order.
_WHERE: dict[str, tuple[str, str, str]] = {
    "add": ("collection", "Add", "Add one DVD to the collection."),
    "import": ("collection", "Import", "Import DVDs from a CSV file."),
    "load-sample-data": ("collection", "LoadSampleData", "Load the bundled sample DVD collection."),
    "match-tmdb-ids": ("dvd_tmdb", "MatchTmdbIds", "Give DVDs without a TMDB id one, by title and year."),
    "populate-imdb-ids": ("dvd_tmdb", "PopulateImdbIds", "Fetch IMDb ids for DVDs that have a TMDB id."),
    "refresh-missing-details": ("dvd_tmdb", "RefreshMissingDetails",
                                "Fetch TMDB details and posters for DVDs missing any."),
    "normalize-uk-certifications": ("collection", "NormalizeUkCertifications",
                                    "Lower-case every stored UK certification."),
    "refresh-torrent-data": ("dvd_torrents", "RefreshTorrentData", "Check YTS torrents for DVDs with an IMDb id."),
    "cleanup-unused-posters": ("collection", "CleanupUnusedPosters", "Delete poster files nothing references."),
    "create-initial-badges": ("badges", "CreateInitialBadges", "Create the predefined achievement badges."),
    "populate-genres": ("catalogue", "PopulateGenres", "Fetch TMDB's movie and TV genre lists."),
    "populate-db": ("catalogue", "PopulateDb", "Fetch TMDB's popular movies and TV shows, with posters."),
    "update-details": ("catalogue", "UpdateDetails", "Fetch runtime, genres and credits of catalogue titles."),
    "update-watch-providers": ("providers", "UpdateWatchProviders",
                               "Fetch where each movie and TV show can be watched."),
    "get-providers-logo": ("providers", "GetProvidersLogo", "Download the logo of every known provider."),
    "edit": ("curation", "Edit", "Set a DVD's fields by hand (and lock them against refreshes)."),
    "remove": ("curation", "Remove", "Remove a DVD from the collection."),
    "merge": ("curation", "Merge", "Merge two DVDs that are one."),
    "identify": ("curation", "Identify", "Settle which TMDB film a DVD is."),
    "sync": ("sync", "Sync", "Refresh only the tracked titles TMDB's change lists name since the last sync."),
}


class Commands(Mapping[str, "Command"]):
    """The commands by name; each is built (and its module imported) on first lookup."""

    def __init__(self) -> None:
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        """The command called ``name`` (KeyError if there is none)."""
        if name not in self._built:
            module, cls, _ = _WHERE[name]
            self._built[name] = getattr(importlib.import_module(f"tracker.commands.{module}"), cls)()
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        """Whether a command is called ``name``, without importing it."""
        return name in _WHERE

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)

    def summary(self, name: str) -> str:
        """The one line ``tracker --help`` shows for ``name``, without importing the command."""
        return _WHERE[name][2]


COMMANDS = Commands()
