"""The providers and availability tables: who offers what, where."""

from __future__ import annotations

import sqlite3
from typing import Any

from events.types import OfferAdded, OfferRemoved, ProviderLogoSaved, ProviderSeen
from projections.catalogue import Held
from projections.fold import Envelope, on
from projections.rows import RowCache, select_rows
from projections.tables import TABLES

Provider, Offer = TABLES["providers"].row, TABLES["availability"].row


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


# Named queries: every read of the providers and availability tables goes through these.

def by_id(conn: sqlite3.Connection) -> dict[int, Any]:
    """Every known provider (a ``Provider`` row) by provider id, in id order."""
    return {p.provider_id: p for p in select_rows(conn, "providers")}


def offers_held(conn: sqlite3.Connection, media: str, tmdb_id: int,
                regions: list[str] | None = None) -> set[tuple[str, str, int]]:
    """A title's offers as (region, offer type, provider id), within ``regions`` if given."""
    sql = ("SELECT region, offer_type, provider_id FROM availability"
           " WHERE media_type = ? AND tmdb_id = ?")
    params: tuple = (media, tmdb_id)
    if regions:
        sql += f" AND region IN ({','.join('?' * len(regions))})"
        params += tuple(regions)
    return set(conn.execute(sql, params).fetchall())


def offer_count(conn: sqlite3.Connection) -> int:
    """How many offers are held."""
    return conn.execute("SELECT COUNT(*) FROM availability").fetchone()[0]


def with_logo(conn: sqlite3.Connection) -> Held:
    """Providers known, and how many have a saved logo."""
    return Held(*conn.execute("SELECT COUNT(*), COUNT(logo) FROM providers").fetchone())
