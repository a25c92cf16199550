"""What the sandbox's handlers and middleware share: credentials, knobs, catalogue, counters."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from tracker.sandbox.catalogue import Catalogue
from tracker.sandbox.knobs import FaultDice, Knobs, Stats, TokenBucket


class SandboxState:
    """Everything the handlers share: credentials, knobs, catalogue, counters, buckets, dice."""

    def __init__(self, api_key: str, access_token: str, knobs: Knobs) -> None:
        """Build the catalogue and runtime helpers from the knobs."""
        self.api_key = api_key
        self.access_token = access_token
        self.knobs = knobs
        self.stats = Stats()
        self.catalogue = Catalogue()
        self.buckets: dict[str, TokenBucket] = {}
        self.dice = FaultDice(knobs.seed)
        self.closing: asyncio.Event | None = None  # set when the server stops, to wake sleepers
        self.sync_catalogue()

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply knob changes; rate or seed changes start fresh buckets / dice."""
        self.knobs.update(changes)
        if {"rate_per_s", "tmdb_rate_per_s", "yts_rate_per_s"} & set(changes):
            self.buckets.clear()
        if "seed" in changes:
            self.dice = FaultDice(self.knobs.seed)
        self.sync_catalogue()
        return self.knobs.as_dict()

    def edit(self, media: Any, ids: Any, changes: dict[str, Any], day: date | None = None) -> dict[str, Any]:
        """Edit titles on ``day`` (default today, UTC): {id: fields set}; ValueError names a bad one."""
        if media not in ("movie", "tv") or not isinstance(ids, list) or not isinstance(changes, dict):
            raise ValueError('expected {"media_type": "movie" or "tv", "ids": [...], "changes": {...}}')
        day = day or datetime.now(UTC).date()
        edited = {}
        for tmdb_id in ids:
            record = self.catalogue.movie(int(tmdb_id)) if media == "movie" else self.catalogue.tv(int(tmdb_id))
            if record is None:
                raise ValueError(f"no {media} {tmdb_id} in the sandbox")
            edited[str(tmdb_id)] = self.catalogue.changes.edit(media, record, changes, day)
        return edited

    def sync_catalogue(self) -> None:
        """Copy the catalogue-shaping knobs onto the catalogue."""
        self.catalogue.synthetic_count = self.knobs.synthetic_count
        self.catalogue.synthetic_tv_count = self.knobs.synthetic_tv_count
        self.catalogue.hostile = self.knobs.hostile_paths


STATE: web.AppKey[SandboxState] = web.AppKey("sandbox_state")
