"""Watch-provider commands: offers per region and type, and the providers' logos."""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from events.types import Event, OfferAdded, OfferRemoved, ProviderLogoSaved, ProviderSeen, WatchProvidersChecked
from tracker.clients.tmdb_terms import LOGO_SIZE, MEDIA_TYPES
from tracker.commands.base import FAILED, SKIPPED, UPDATED, Item, Outcome, Run, TmdbCommand, arg
from tracker.commands.catalogue import (
    TABLE,
    check_media_type,
    event_count,
    media_type_arg,
    media_types,
    rows,
    save_once,
)
from tracker.errors import ApiError, UnsafePath, UsageError

if TYPE_CHECKING:  # the TMDB client (and aiohttp under it) loads only when a command runs
    from tracker.clients.tmdb import Provider

_REGION = re.compile(r"[A-Za-z]{2}")
Offer = tuple[str, str, int]  # (region, offer type, provider id)


def region_code(text: str) -> str:
    """A region as TMDB spells it: an ISO 3166-1 two-letter code, upper case."""
    code = text.strip()
    if not _REGION.fullmatch(code):
        raise argparse.ArgumentTypeError(f"{text!r} is not a two-letter region code such as GB")
    return code.upper()


def _known_providers(run: Run) -> dict[int, dict[str, Any]]:
    """Providers already in the table, by id."""
    return {r["provider_id"]: r for r in rows(run, "providers")}


def _provider_seen(run: Run, p: Provider) -> ProviderSeen | None:
    """A ProviderSeen for a provider new (or renamed, relogoed) to this run, else None."""
    seen: set[int] = run.scratch["seen"]
    row = run.scratch["providers"].get(p.provider_id)
    if p.provider_id in seen or (row and row["name"] == p.provider_name
                                 and (p.logo_path is None or row["tmdb_logo_path"] == p.logo_path)):
        return None
    seen.add(p.provider_id)  # no await since the check: two items cannot both record it
    return ProviderSeen(provider_id=p.provider_id, name=p.provider_name, logo_path=p.logo_path)


class UpdateWatchProviders(TmdbCommand):
    """update-watch-providers: offers of every catalogue title, per region and offer type."""

    name = "update-watch-providers"
    help = ("Fetch where each movie and TV show can be watched (flatrate, rent, buy, ads, free), "
            "one request per title, in every region TMDB lists or only those given by --region. "
            "Offers TMDB no longer lists in a checked region are removed (OfferRemoved).")
    arguments = (media_type_arg(),
                 arg("--region", action="append", type=region_code, metavar="CC",
                     help="only this region (two-letter code such as GB; repeatable; default every region TMDB lists)"))

    def validate(self, options: dict[str, Any], settings: Any) -> dict[str, Any]:
        """Credentials, media type, and regions as sorted unique upper-case codes."""
        options = super().validate(options, settings)
        check_media_type(options)
        regions = options.get("region")
        if regions:
            if isinstance(regions, str):
                regions = [regions]
            try:
                options["region"] = sorted({region_code(str(r)) for r in regions})
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"--region: {exc}") from None
        return options

    def prepare(self, run: Run) -> None:
        """Known providers, and those recorded by this run so far."""
        run.scratch["providers"] = _known_providers(run)
        run.scratch["seen"] = set()

    def select(self, run: Run) -> Iterable[Item]:
        """Every movie and/or show of the catalogue, at most --limit."""
        items = [Item(f"{m}:{r['tmdb_id']}", (m, r["tmdb_id"])) for m in media_types(run.options)
                 for r in rows(run, TABLE[m])]
        limit = run.options.get("limit")
        return items[:limit] if limit else items

    def _current(self, run: Run, media: str, tmdb_id: int) -> set[Offer]:
        """The offers held for a title, within the regions this run checks."""
        regions = run.options.get("region")
        sql = ("SELECT region, offer_type, provider_id FROM availability"
               " WHERE media_type = ? AND tmdb_id = ?")
        params: tuple = (media, tmdb_id)
        if regions:
            sql += f" AND region IN ({','.join('?' * len(regions))})"
            params += tuple(regions)
        return set(run.db.conn.execute(sql, params).fetchall())

    async def process(self, run: Run, item: Item) -> Outcome:
        """One request; offers added and removed against what is held, providers recorded."""
        media, tmdb_id = item.payload
        offers = await run.clients.tmdb.watch_providers(media, tmdb_id)
        regions = run.options.get("region")
        listed: dict[Offer, Provider] = {
            (region, kind, p.provider_id): p for region, by_kind in offers.items()
            if not regions or region in regions for kind, providers in by_kind.items()
            for p in providers}
        held = self._current(run, media, tmdb_id)
        events: list[Event] = [e for p in listed.values() if (e := _provider_seen(run, p))]
        changes: dict[str, list[Any]] = {}
        for offer in sorted(listed.keys() - held):
            events.append(OfferAdded(media_type=media, tmdb_id=tmdb_id, region=offer[0],
                                     offer_type=offer[1], provider_id=offer[2]))
            changes[" ".join(map(str, offer))] = [None, listed[offer].provider_name]
        for offer in sorted(held - listed.keys()):
            events.append(OfferRemoved(media_type=media, tmdb_id=tmdb_id, region=offer[0],
                                       offer_type=offer[1], provider_id=offer[2]))
            changes[" ".join(map(str, offer))] = ["offered", None]
        events.append(WatchProvidersChecked(media_type=media, tmdb_id=tmdb_id))
        return Outcome(UPDATED if changes else SKIPPED, events,
                       reason="" if changes else "no change", changes=changes)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """Offers added and removed by this run, and what is held now."""
        held = db.conn.execute("SELECT COUNT(*) FROM availability").fetchone()[0]
        providers = db.conn.execute("SELECT COUNT(*) FROM providers").fetchone()[0]
        return {"offers": {"added": event_count(db, run.command_id, "OfferAdded"),
                           "removed": event_count(db, run.command_id, "OfferRemoved"),
                           "held": held},
                "providers": providers}


async def _save_logo(run: Run, provider_id: int, logo_path: str | None,
                     old: str | None) -> tuple[Event | None, dict[str, list[Any]], str]:
    """Save one provider's logo (not fetched when on disk): (event, changes, failure reason)."""
    if not logo_path:
        return None, {}, ""
    try:
        logo = await save_once(run, logo_path, run.settings.logos_dir, LOGO_SIZE)
    except (UnsafePath, ApiError) as exc:
        return None, {}, f"logo of provider:{provider_id}: {exc}"
    if logo == old:
        return None, {}, ""
    return ProviderLogoSaved(provider_id=provider_id, logo=logo), {"logo": [old, logo]}, ""


class GetProvidersLogo(TmdbCommand):
    """get-providers-logo: logos of every provider known from offers and TMDB's provider lists."""

    name = "get-providers-logo"
    help = ("Read TMDB's movie and TV provider lists, then download the logo of every known "
            "provider (from those lists and from offers) to media/provider_logos/; a logo "
            "already on disk is not fetched again. --limit N: at most N logos.")

    def prepare(self, run: Run) -> None:
        """Providers known now get their own items; new ones from the lists share the slots left."""
        run.scratch["providers"] = _known_providers(run)
        run.scratch["seen"] = set()
        run.scratch["list_logo"] = {}

    def select(self, run: Run) -> Iterable[Item]:
        """The two provider lists first, then every provider known now (at most --limit)."""
        known = list(run.scratch["providers"].values())
        limit = run.options.get("limit")
        chosen = known[:limit] if limit else known
        run.scratch["claimed"] = {r["provider_id"] for r in chosen}
        run.scratch["slots"] = None if limit is None else limit - len(chosen)
        return [*(Item(f"providers:{m}", m) for m in MEDIA_TYPES),
                *(Item(f"provider:{r['provider_id']}", r) for r in chosen)]

    async def process(self, run: Run, item: Item) -> Outcome:
        """A provider list (providers recorded, new ones' logos saved) or one provider's logo."""
        if isinstance(item.payload, str):
            return await self._list(run, item.payload)
        row = item.payload
        pid = row["provider_id"]
        path = run.scratch["list_logo"].get(pid) or row["tmdb_logo_path"]
        if not path:
            return Outcome(SKIPPED, reason="TMDB has no logo for it")
        event, changes, failure = await _save_logo(run, pid, path, row["logo"])
        if failure:
            return Outcome(FAILED, reason=failure)
        if event is None:
            return Outcome(SKIPPED, reason="logo on disk")
        return Outcome(UPDATED, [event], changes=changes)

    def _claim(self, run: Run, provider_id: int) -> bool:
        """Whether this list item saves a provider's logo (not claimed, a --limit slot left)."""
        if provider_id in run.scratch["claimed"] or run.scratch["slots"] == 0:
            return False
        run.scratch["claimed"].add(provider_id)
        if run.scratch["slots"] is not None:
            run.scratch["slots"] -= 1
        return True

    async def _list(self, run: Run, media: str) -> Outcome:
        """One request for TMDB's provider list; record its providers and save new logos."""
        providers = await run.clients.tmdb.provider_list(media)
        events: list[Event] = []
        changes: dict[str, list[Any]] = {}
        for p in providers:
            if p.logo_path:
                run.scratch["list_logo"][p.provider_id] = p.logo_path
            if (seen := _provider_seen(run, p)) is not None:
                events.append(seen)
                old = run.scratch["providers"].get(p.provider_id)
                changes[f"provider:{p.provider_id}"] = [old["name"] if old else None, p.provider_name]
        logos = await asyncio.gather(*(_save_logo(run, p.provider_id, p.logo_path, None)
                                       for p in providers if self._claim(run, p.provider_id)))
        failures = [f for _, _, f in logos if f]
        for event, change, _ in logos:
            if event is not None:
                events.append(event)
                changes[f"provider:{event.provider_id} logo"] = change["logo"]
        if failures:
            return Outcome(FAILED, events, reason="; ".join(failures), changes=changes)
        return Outcome(UPDATED if changes else SKIPPED, events,
                       reason="" if changes else "no change", changes=changes)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """Providers known and with a logo."""
        total, logos = db.conn.execute("SELECT COUNT(*), COUNT(logo) FROM providers").fetchone()
        return {"providers": {"total": total, "with_logo": logos,
                              "logos_saved": event_count(db, run.command_id, "ProviderLogoSaved")}}
