"""The providers and availability tables: who offers what, where."""

from __future__ import annotations

from events.types import OfferAdded, OfferRemoved, ProviderLogoSaved, ProviderSeen, WatchProvidersChecked
from projections.fold import Envelope, on
from projections.rows import RowCache
from projections.tables import TABLES

Provider, Offer = TABLES["providers"].row, TABLES["availability"].row
_TABLE = {"movie": "movies", "tv": "tv"}


@on(ProviderSeen)
def provider_seen(rows: RowCache, env: Envelope, e: ProviderSeen) -> None:
    """Create or rename a provider, keeping a saved logo."""
    row = rows.get("providers", (e.provider_id,)) or Provider(provider_id=e.provider_id)
    row.name = e.name
    if e.logo_path is not None:
        row.tmdb_logo_path = e.logo_path
    rows.put("providers", (e.provider_id,), row)


@on(ProviderLogoSaved)
def logo_saved(rows: RowCache, env: Envelope, e: ProviderLogoSaved) -> None:
    """Point a provider at its saved logo."""
    row = rows.get("providers", (e.provider_id,))
    if row is not None:
        row.logo = e.logo
        rows.put("providers", (e.provider_id,), row)


@on(OfferAdded)
def offer_added(rows: RowCache, env: Envelope, e: OfferAdded) -> None:
    """A new offer, dated."""
    rows.put("availability", (e.media_type, e.tmdb_id, e.region, e.offer_type, e.provider_id),
             Offer(e.media_type, e.tmdb_id, e.region, e.offer_type, e.provider_id, env.at))


@on(OfferRemoved)
def offer_removed(rows: RowCache, env: Envelope, e: OfferRemoved) -> None:
    """An offer TMDB no longer lists."""
    rows.delete("availability", (e.media_type, e.tmdb_id, e.region, e.offer_type, e.provider_id))


@on(WatchProvidersChecked)
def providers_checked(rows: RowCache, env: Envelope, e: WatchProvidersChecked) -> None:
    """When a movie's or show's offers were last checked."""
    table = _TABLE.get(e.media_type)
    row = rows.get(table, (e.tmdb_id,)) if table else None
    if row is not None:
        row.providers_checked_at = env.at
        rows.put(table, (e.tmdb_id,), row)
