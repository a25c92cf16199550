"""Watch-provider commands: offers per region and type, and the providers' logos."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from events.types import Event, OfferAdded, OfferRemoved, ProviderLogoSaved, ProviderSeen, WatchProvidersChecked
from projections import catalogue
from projections import providers as provider_table
from tracker.clients.tmdb_terms import LOGO_SIZE, MEDIA_TYPES
from tracker.commands.base import FAILED, SKIPPED, UPDATED, Item, Outcome, Run, TmdbCommand, arg
from tracker.commands.catalogue import Downloads, check_media_type, media_type_arg, media_types, merged, save_once
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


@dataclass
class Providers(Downloads):
    """Run state: the providers known when the run began, and those this run has recorded."""

    known: dict[int, Any] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)


def _provider_seen(state: Providers, p: Provider) -> ProviderSeen | None:
    """A ProviderSeen for a provider new (or renamed, relogoed) to this run, else None."""
    row = state.known.get(p.provider_id)
    if p.provider_id in state.seen or (row and row.name == p.provider_name and (
            p.logo_path is None or row.tmdb_logo_path == p.logo_path)):
        return None
    state.seen.add(p.provider_id)  # no await since the check: two items cannot both record it
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

    def prepare(self, run: Run) -> Providers:
        """Known providers; none recorded by this run yet."""
        return Providers(known=provider_table.by_id(run.db.conn))

    def select(self, run: Run) -> Iterable[Item]:
        """Every movie and/or show of the catalogue, at most --limit."""
        items = [Item(f"{m}:{r.tmdb_id}", (m, r.tmdb_id)) for m in media_types(run.options)
                 for r in catalogue.titles(run.db.conn, m)]
        return items[: run.limit]

    async def process(self, run: Run, item: Item) -> Outcome:
        """One request; offers added and removed against what is held, providers recorded."""
        media, tmdb_id = item.payload
        offers = await run.clients.tmdb.watch_providers(media, tmdb_id)
        regions = run.options.get("region")
        listed: dict[Offer, Provider] = {
            (region, kind, p.provider_id): p for region, by_kind in offers.items()
            if not regions or region in regions for kind, providers in by_kind.items()
            for p in providers}
        held = provider_table.offers_held(run.db.conn, media, tmdb_id, regions)
        events: list[Event] = [e for p in listed.values() if (e := _provider_seen(run.state, p))]
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
        return {"offers": {"added": db.store.count_of(run.command_id, OfferAdded.__name__),
                           "removed": db.store.count_of(run.command_id, OfferRemoved.__name__),
                           "held": provider_table.offer_count(db.conn)},
                "providers": provider_table.with_logo(db.conn).total}


async def _save_logo(run: Run, provider_id: int, logo_path: str | None, old: str | None,
                     change_key: str) -> Outcome:
    """Save one provider's logo (not fetched when on disk): updated, skipped or failed."""
    if not logo_path:
        return Outcome(SKIPPED, reason="TMDB has no logo for it")
    try:
        logo = await save_once(run, run.state, logo_path, run.settings.logos_dir, LOGO_SIZE)
    except (UnsafePath, ApiError) as exc:
        return Outcome(FAILED, reason=f"logo of provider:{provider_id}: {exc}")
    if logo == old:
        return Outcome(SKIPPED, reason="logo on disk")
    return Outcome(UPDATED, [ProviderLogoSaved(provider_id=provider_id, logo=logo)],
                   changes={change_key: [old, logo]})


@dataclass
class LogoRun(Providers):
    """get-providers-logo's run state: which providers' logos this run saves, and from where."""

    list_logo: dict[int, str] = field(default_factory=dict)  # logo paths TMDB's lists gave
    claimed: set[int] = field(default_factory=set)  # providers whose logo an item saves
    slots: int | None = None  # --limit slots left for providers new from the lists


class GetProvidersLogo(TmdbCommand):
    """get-providers-logo: logos of every provider known from offers and TMDB's provider lists."""

    name = "get-providers-logo"
    help = ("Read TMDB's movie and TV provider lists, then download the logo of every known "
            "provider (from those lists and from offers) to media/provider_logos/; a logo "
            "already on disk is not fetched again. --limit N: at most N logos.")

    def prepare(self, run: Run) -> LogoRun:
        """Providers known now get their own items; new ones from the lists share the slots left."""
        known = provider_table.by_id(run.db.conn)
        chosen = list(known)[: run.limit]
        return LogoRun(known=known, claimed=set(chosen),
                       slots=None if run.limit is None else run.limit - len(chosen))

    def select(self, run: Run) -> Iterable[Item]:
        """The two provider lists first, then every provider known now (at most --limit)."""
        state: LogoRun = run.state
        return [*(Item(f"providers:{m}", m) for m in MEDIA_TYPES),
                *(Item(f"provider:{pid}", state.known[pid]) for pid in state.known
                  if pid in state.claimed)]

    async def process(self, run: Run, item: Item) -> Outcome:
        """A provider list (providers recorded, new ones' logos saved) or one provider's logo."""
        if isinstance(item.payload, str):
            return await self._list(run, item.payload)
        row = item.payload
        path = run.state.list_logo.get(row.provider_id) or row.tmdb_logo_path
        return await _save_logo(run, row.provider_id, path, row.logo, "logo")

    def _claim(self, state: LogoRun, provider_id: int) -> bool:
        """Whether this list item saves a provider's logo (not claimed, a --limit slot left)."""
        if provider_id in state.claimed or state.slots == 0:
            return False
        state.claimed.add(provider_id)
        if state.slots is not None:
            state.slots -= 1
        return True

    async def _list(self, run: Run, media: str) -> Outcome:
        """One request for TMDB's provider list; record its providers and save new logos."""
        import asyncio
        state: LogoRun = run.state
        listed = await run.clients.tmdb.provider_list(media)
        events: list[Event] = []
        changes: dict[str, list[Any]] = {}
        for p in listed:
            if p.logo_path:
                state.list_logo[p.provider_id] = p.logo_path
            if (seen := _provider_seen(state, p)) is not None:
                events.append(seen)
                old = state.known.get(p.provider_id)
                changes[f"provider:{p.provider_id}"] = [old.name if old else None, p.provider_name]
        logos = await asyncio.gather(*(
            _save_logo(run, p.provider_id, p.logo_path, None, f"provider:{p.provider_id} logo")
            for p in listed if self._claim(state, p.provider_id)))
        return merged(logos, events, changes)

    def summary_extra(self, run: Run, db: Any) -> dict[str, Any]:
        """Providers known and with a logo."""
        held = provider_table.with_logo(db.conn)
        return {"providers": {"total": held.total, "with_logo": held.with_it,
                              "logos_saved": db.store.count_of(run.command_id,
                                                               ProviderLogoSaved.__name__)}}
