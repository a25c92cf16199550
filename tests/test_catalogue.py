"""The catalogue commands against the sandbox over loopback: genres, popular lists, posters, details."""

from __future__ import annotations

import sqlite3

import pytest

from tests.catalogue_support import Home

SPEC_FIELDS = {
    "movies": {"tmdb_id", "title", "overview", "release_date", "popularity", "rating", "vote_count",
               "runtime", "director", "genres", "poster"},
    "tv": {"tmdb_id", "name", "overview", "first_air_date", "popularity", "rating", "vote_count",
           "number_of_seasons", "number_of_episodes", "genres", "poster"},
    "genres": {"tmdb_id", "name", "media_types"},
    "providers": {"provider_id", "name", "logo"},
    "availability": {"media_type", "tmdb_id", "region", "offer_type", "provider_id"},
}


def test_populate_genres_names_both_lists(home: Home) -> None:
    """Movie and TV genres are named; a TV-only genre gets its real name; a rerun adds nothing."""
    s = home.summary("populate-genres")
    assert (s["processed"], s["updated"], s["failed"]) == (2, 2, 0)
    genres = {g["tmdb_id"]: g for g in home.export("genres")}
    assert genres[10765] == {"tmdb_id": 10765, "name": "Sci-Fi & Fantasy", "media_types": ["tv"]}
    assert genres[28]["media_types"] == ["movie"] and genres[18]["media_types"] == ["movie", "tv"]
    assert all(g["name"] for g in genres.values())
    before = home.count()
    again = home.summary("populate-genres")
    assert (again["updated"], again["skipped"]) == (0, 2)
    assert home.count() - before == 5  # requested, started, two items, completed: no GenreNamed
    assert not home.query("SELECT 1 FROM events WHERE type = 'GenreNamed' AND seq > ?", before)


def test_populate_db_lists_links_genres_and_saves_posters(home: Home) -> None:
    """Both lists land with basic fields; unknown genre ids are created, then named, never 'Unknown'."""
    s = home.summary("populate-db", "--pages", "1")
    assert (s["processed"], s["updated"], s["failed"]) == (2, 2, 0)
    assert s["movies"]["total"] == 20 and s["tv"]["total"] == 20
    assert home.requests("movie_popular") == 1 and home.requests("tv_popular") == 1
    unnamed = home.export("genres")
    assert unnamed and all(g["name"] is None for g in unnamed)  # created by id, awaiting their name
    home.summary("populate-genres")
    genres = {g["tmdb_id"]: g["name"] for g in home.export("genres")}
    assert "Unknown" not in genres.values() and all(genres.values())
    movies = home.export("movies")
    assert len(movies) == 20 and all(m["title"] and m["genres"] for m in movies)
    assert all(m["poster"] and (home.path / m["poster"]).is_file() for m in movies)
    tv = home.export("tv")
    assert any("Sci-Fi & Fantasy" in t["genres"] for t in tv)
    assert all(t["poster"].startswith("media/posters/") for t in tv if t["poster"])
    no_poster = {t["tmdb_id"] for t in tv if t["poster"] is None}
    assert no_poster == {r[0] for r in home.query("SELECT tmdb_id FROM tv WHERE tmdb_poster_path IS NULL")}


def test_populate_db_rerun_fetches_no_poster_and_appends_no_listing(home: Home) -> None:
    """A second run finds every poster on disk (no image request) and nothing changed."""
    home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    images = home.requests("image")
    assert images == 20
    before = home.count()
    s = home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    assert (s["updated"], s["skipped"]) == (0, 1)
    assert home.requests("image") == images
    assert not home.query("SELECT 1 FROM events WHERE seq > ? AND type IN"
                          " ('MovieListed', 'CataloguePosterSaved')", before)
    poster = home.export("movies")[0]["poster"]
    (home.path / poster).unlink()
    home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    assert (home.path / poster).is_file() and home.requests("image") == images + 1


def test_populate_db_media_type_pages_and_limit(home: Home) -> None:
    """--media-type narrows the lists, --pages the pages, --limit the pages read; the end is found."""
    s = home.summary("populate-db", "--media-type", "tv", "--pages", "3")
    # 12 real + 10 synthetic shows: two pages; page 3 is skipped without a request
    assert (s["processed"], s["updated"], s["skipped"]) == (3, 2, 1)
    assert home.requests("tv_popular") == 2 and home.requests("movie_popular") == 0
    assert len(home.export("tv")) == 22 and home.export("movies") == []
    assert "past the last page" in s["skips"][0]["reason"]
    s = home.summary("populate-db", "--media-type", "movie", "--pages", "3", "--limit", "1")
    assert s["processed"] == 1 and len(home.export("movies")) == 20


def test_page_cap_clamps_and_says_so(home: Home) -> None:
    """--pages 501 is clamped to 500 (the summary says so) and page 501 is never asked for."""
    s = home.summary("populate-db", "--media-type", "movie", "--pages", "501")
    assert s["pages_clamped"] is True and "clamped to 500" in s["note"]
    assert s["processed"] == 500 and s["failed"] == 0
    items = {r[0] for r in home.query("SELECT item FROM command_items WHERE command_id = ?",
                                      s["command_id"])}
    assert "popular:movie:500" in items and "popular:movie:501" not in items
    assert home.requests("movie_popular") == 4  # 39 real + 30 synthetic films: four pages served
    code, out, _ = home.run("populate-db", "--pages", "501")
    assert code == 0 and "clamped to 500" in out


def test_bad_options_exit_2_and_write_nothing(home: Home) -> None:
    """A bad media type or page count, or no credentials, is refused before anything is written."""
    for args in (("populate-db", "--media-type", "film"), ("populate-db", "--pages", "0"),
                 ("populate-db", "--pages", "x"), ("update-details", "--media-type", "books")):
        code, _, err = home.run(*args)
        assert code == 2 and err.strip(), args
    assert not (home.path / "tracker.db").exists() or home.count() == 0


def test_no_credentials_exit_2(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a TMDB key or token every catalogue command exits 2 with one line."""
    monkeypatch.delenv("TMDB_API_KEY")
    for name in ("populate-genres", "populate-db", "update-details", "update-watch-providers",
                 "get-providers-logo"):
        code, _, err = home.run(name)
        assert code == 2 and "no TMDB credentials" in err and len(err.strip().splitlines()) == 1


def test_hostile_posters_refused(home: Home) -> None:
    """Posters whose API path is not a plain file name fail their page, named with the reason."""
    home.sandbox.configure(hostile_paths=True)
    s = home.summary("populate-db", "--media-type", "movie", "--pages", "2", rc=1)
    assert s["failed"] >= 1
    reasons = " ".join(f["reason"] for f in s["failures"])
    assert "poster of movie:238: refused unsafe file name" in reasons
    movies = {m["tmdb_id"]: m for m in home.export("movies")}
    assert len(movies) == 40 and movies[238]["title"] == "The Godfather"  # listed all the same
    assert movies[238]["poster"] is None and movies[550]["poster"]
    assert not (home.path / "etc").exists() and not (home.path.parent / "etc").exists()
    for name in home.files():
        assert name.startswith("media/posters/") and name.count("/") == 2, name


def test_update_details_one_request_each_skips_recent_force_refreshes(home: Home) -> None:
    """Details fill runtime, director, seasons, creators; recent ones are skipped unless --force."""
    home.summary("populate-db", "--pages", "1")
    s = home.summary("update-details")
    assert (s["processed"], s["updated"], s["failed"]) == (40, 40, 0)
    assert home.requests("movie_details") == 20 and home.requests("tv_details") == 20
    assert home.requests("movie_credits") == 0  # credits come appended, never on their own
    movies = {m["tmdb_id"]: m for m in home.export("movies")}
    assert movies[550]["director"] == "David Fincher" and movies[550]["runtime"] == 139
    tv = {t["tmdb_id"]: t for t in home.export("tv")}
    assert tv[1396]["number_of_seasons"] == 5 and tv[1396]["number_of_episodes"] == 62
    assert tv[1396]["creators"] == ["Vince Gilligan"] and tv[1396]["episode_run_time"] > 0
    again = home.summary("update-details")
    assert again["processed"] == 0 and home.requests("movie_details") == 20
    forced = home.summary("update-details", "--force", "--media-type", "tv", "--limit", "5")
    assert (forced["processed"], forced["skipped"]) == (5, 5)
    assert home.requests("tv_details") == 25 and home.requests("movie_details") == 20


def test_update_details_reselects_after_seven_days(home: Home) -> None:
    """A title refreshed more than 7 days ago is refreshed again by the default run."""
    home.summary("populate-db", "--pages", "1", "--media-type", "movie")
    home.summary("update-details")
    conn_rows = home.query("SELECT tmdb_id FROM movies ORDER BY tmdb_id LIMIT 2")
    conn = sqlite3.connect(home.path / "tracker.db")
    with conn:  # age two projection rows behind tracker's back, as if refreshed long ago
        conn.execute("UPDATE movies SET details_refreshed_at = '2020-01-01T00:00:00.000000Z'"
                     " WHERE tmdb_id IN (?, ?)", (conn_rows[0][0], conn_rows[1][0]))
    conn.close()
    s = home.summary("update-details")
    assert s["processed"] == 2
    code, out, _ = home.run("update-details", "--help")
    assert code == 0 and "7 days" in " ".join(out.split())


def test_exports_carry_spec_fields(home: Home) -> None:
    """After the catalogue workflow every export row has SPEC.md's field names; verify agrees."""
    for step in (("populate-genres",), ("populate-db", "--pages", "1"), ("update-details",),
                 ("update-watch-providers", "--region", "GB"), ("get-providers-logo",)):
        home.summary(*step)
    for table, fields in SPEC_FIELDS.items():
        rows = home.export(table)
        assert rows, table
        assert all(fields <= set(r) for r in rows), table
    assert {r["offer_type"] for r in home.export("availability")} <= {"flatrate", "rent", "buy", "ads", "free"}
    code, out, err = home.run("verify")
    assert code == 0, out + err


def test_dry_run_changes_nothing_and_counts_what_would(home: Home) -> None:
    """Every catalogue command's dry run leaves exports, log and media alone, and counts truly."""
    steps = (("populate-genres",), ("populate-db", "--pages", "1"), ("update-details",),
             ("update-watch-providers", "--region", "US"), ("get-providers-logo",))
    for step in steps:
        before = home.snapshot()
        dry = home.summary(*step, "--dry-run")
        assert dry["dry_run"] is True
        assert home.snapshot() == before, step
        real = home.summary(*step)
        ignore = {"command_id", "dry_run", "status"}
        # every count, the per-table extras included, is what the real run then does
        assert {k: v for k, v in dry.items() if k not in ignore} == \
            {k: v for k, v in real.items() if k not in ignore}, step
        assert real["updated"] > 0, step


def test_verbose_json_and_django_aliases(home: Home) -> None:
    """--verbose names field changes, --json prints the SPEC keys, underscore names work."""
    code, out, _ = home.run("populate_genres", "--verbose")
    assert code == 0 and "genre:10765" in out and "Sci-Fi & Fantasy" in out
    s = home.summary("populate_db", "--media-type", "tv", "--pages", "1")
    assert {"command_id", "command", "dry_run", "processed", "updated", "skipped", "failed"} <= set(s)
    assert s["command"] == "populate-db"
    code, out, _ = home.run("update_details", "--media-type", "tv", "--limit", "1", "--verbose")
    assert code == 0 and "number_of_seasons" in out


def test_populate_db_begun_yesterday_is_not_resumed(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages walked yesterday are not today's pages: the resume fails with its reason, asks nothing."""
    from datetime import UTC, datetime, timedelta

    from events.types import CommandRequested, CommandStarted, ItemProcessed
    from tracker.db import Database

    yesterday = datetime.now(UTC) - timedelta(days=1)
    monkeypatch.setattr("events.store.utc_now", lambda: yesterday.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    with Database(home.path / "tracker.db") as db:
        db.record([CommandRequested(command_id="stale0000001", name="populate-db", options={"pages": 2}),
                   CommandStarted(command_id="stale0000001", total=4),
                   ItemProcessed(command_id="stale0000001", item="popular:movie:1", outcome="updated")],
                  "stale0000001")
    monkeypatch.undo()
    code, _, _ = home.run("daemon", "--until-idle")
    assert code == 0
    (status, reason), = home.query("SELECT status, reason FROM commands WHERE command_id = 'stale0000001'")
    assert status == "failed"
    assert reason.startswith(f"populate-db stale0000001 began on {yesterday:%Y-%m-%d} and TMDB's popular lists")
    assert home.query("SELECT COUNT(*) FROM events WHERE type IN ('MovieListed', 'TvShowListed')") == [(0,)]
