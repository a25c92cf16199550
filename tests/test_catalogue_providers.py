"""Watch providers and logos against the sandbox: offers added and removed, regions, hostile logos."""

from __future__ import annotations

import json
import shutil

from tests.catalogue_support import Home


def offers(home: Home) -> set[tuple]:
    """The availability table as a set of (media_type, tmdb_id, region, offer_type, provider_id)."""
    return {tuple(r.values()) for r in home.export("availability")}


def test_offers_per_region_and_type_with_providers(home: Home) -> None:
    """--region narrows the regions; one request and one WatchProvidersChecked per title."""
    home.summary("populate-db", "--pages", "1")
    s = home.summary("update-watch-providers", "--region", "gb", "--region", "US")
    assert (s["processed"], s["failed"]) == (40, 0) and s["offers"]["added"] > 0
    assert home.requests("movie_watch_providers") == 20 and home.requests("tv_watch_providers") == 20
    held = offers(home)
    assert {o[2] for o in held} == {"GB", "US"}
    assert {o[3] for o in held} == {"flatrate", "rent", "buy", "ads", "free"}
    assert len(home.events("WatchProvidersChecked")) == 40
    assert len(home.events("OfferAdded")) == len(held) == s["offers"]["held"]
    providers = {p["provider_id"]: p for p in home.export("providers")}
    assert {o[4] for o in held} <= set(providers) and providers[8]["name"] == "Netflix"
    seen = [e["provider_id"] for e in home.events("ProviderSeen")]
    assert len(seen) == len(set(seen))  # each provider recorded once, though many titles name it
    again = home.summary("update-watch-providers", "--region", "GB", "--region", "US")
    assert again["updated"] == 0 and again["offers"]["added"] == again["offers"]["removed"] == 0


def test_offers_removed_when_tmdb_stops_listing_them(home: Home) -> None:
    """After the sandbox's offers change, stale offers leave availability through OfferRemoved."""
    home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    home.summary("update-watch-providers")
    before = offers(home)
    assert {o[2] for o in before} == {"GB", "US", "DE", "FR", "CA"}  # every region TMDB lists
    home.sandbox.configure(providers_epoch=1)
    s = home.summary("update-watch-providers", "--region", "GB")
    assert s["offers"]["removed"] > 0 and s["offers"]["added"] > 0
    after = offers(home)
    gone = before - after
    assert gone and {o[2] for o in gone} == {"GB"}
    assert {o for o in before if o[2] != "GB"} == {o for o in after if o[2] != "GB"}  # unchecked regions kept
    removed = {(e["media_type"], e["tmdb_id"], e["region"], e["offer_type"], e["provider_id"])
               for e in home.events("OfferRemoved")}
    assert removed == gone
    code, out, _ = home.run("history", "--type", "OfferRemoved", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == len(gone) and rows[0]["command_id"] == s["command_id"]
    home.summary("update-watch-providers")
    fresh = home.path.parent / "fresh"  # a fresh home at the same epoch holds the same offers
    home.path, old = fresh, home.path
    home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    home.summary("update-watch-providers")
    expected = offers(home)
    home.path = old
    assert offers(home) == expected


def test_region_must_be_two_letters(home: Home) -> None:
    """A region that is not a two-letter code exits 2 with one line, and nothing is written."""
    home.summary("populate-db", "--pages", "1", "--media-type", "tv")
    count = home.count()
    for bad in ("GBR", "1A", "g", ""):
        code, _, err = home.run("update-watch-providers", "--region", bad)
        assert code == 2 and "region" in err and len(err.strip().splitlines()) == 1, bad
    code, _, _ = home.run("update-watch-providers", "--media-type", "films")
    assert code == 2 and home.count() == count


def test_logos_from_offers_and_provider_lists_not_refetched(home: Home) -> None:
    """Every provider known from offers or TMDB's lists gets its logo once; on disk is not refetched."""
    home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    home.summary("update-watch-providers", "--region", "FR")
    from_offers = {p["provider_id"] for p in home.export("providers")}
    s = home.summary("get-providers-logo")
    assert s["failed"] == 0 and home.requests("watch_providers_movie") == 1
    providers = {p["provider_id"]: p for p in home.export("providers")}
    assert from_offers < set(providers)  # the lists added providers no offer named
    assert all(p["logo"] and p["logo"].startswith("media/provider_logos/") for p in providers.values())
    assert all((home.path / p["logo"]).is_file() for p in providers.values())
    assert s["providers"] == {"total": len(providers), "with_logo": len(providers),
                              "logos_saved": len(providers)}
    images = home.requests("image")
    again = home.summary("get-providers-logo")
    assert again["updated"] == 0 and home.requests("image") == images
    shutil.rmtree(home.path / "media" / "provider_logos")
    home.summary("get-providers-logo")
    files = {p["logo"] for p in providers.values()}  # two providers share a logo file on TMDB
    assert len(files) < len(providers) and home.requests("image") == images + len(files)


def test_logo_limit(home: Home) -> None:
    """--limit N saves at most N logos, the rest come with the next run."""
    s = home.summary("get-providers-logo", "--limit", "3")
    assert s["providers"]["with_logo"] == 3 and s["providers"]["total"] > 3
    s = home.summary("get-providers-logo")
    assert s["providers"]["with_logo"] == s["providers"]["total"]


def test_hostile_logos_refused(home: Home) -> None:
    """A logo path that is not a plain file name fails its provider with the reason; nothing escapes."""
    home.sandbox.configure(hostile_paths=True)
    home.summary("populate-db", "--pages", "1", "--media-type", "movie", rc=1)
    home.summary("update-watch-providers", "--region", "GB")
    s = home.summary("get-providers-logo", rc=1)
    reasons = {f["item"]: f["reason"] for f in s["failures"]}
    assert any("logo of provider:350: refused unsafe file name" in r for r in reasons.values())
    providers = {p["provider_id"]: p for p in home.export("providers")}
    assert all(providers[pid]["logo"] is None for pid in (7, 35, 119, 350) if pid in providers)
    assert providers[8]["logo"]
    assert not (home.path / "etc").exists() and not (home.path.parent / "etc").exists()
    for name in home.files():
        assert name.count("/") == 2 and name.split("/")[1] in ("posters", "provider_logos"), name
