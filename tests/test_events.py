"""Event types: round trips, and decoding rows as older versions of tracker wrote them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

import events.types as et
from events.store import NewRecord
from events.types import (
    EVENT_TYPES,
    BadgeCreated,
    DvdAdded,
    DvdDetailsRefreshed,
    DvdTorrentsChecked,
    MovieDetailsRefreshed,
    Torrent,
    UnknownEventType,
    decode,
    encode,
)
from tests.offline_support import Cli, dump, error_line
from tracker.db import Database


def test_every_type_is_tagged_by_its_class_name_and_round_trips() -> None:
    """Every type is tagged by its class name and round trips."""
    samples = [
        DvdAdded(dvd_id=3, title="Fight Club", year=1999, tmdb_id=550, imdb_id="tt0137523"),
        DvdDetailsRefreshed(dvd_id=3, tagline="", budget=0, production_companies=["Fox 2000"],
                            rating=8.4, genres=["Drama"]),
        DvdTorrentsChecked(dvd_id=3, torrents=[Torrent("1080p", "bluray", 10, 2, 2_000_000_000, "AB")]),
        MovieDetailsRefreshed(tmdb_id=1, genres=[et.GenreRef(18, "Drama")], director="D"),
        BadgeCreated(name="B", description="d", badge_type="milestone", rarity="gold", icon="*",
                     requirement_count=1, requirement_type="dvds_owned"),
    ]
    for event in samples:
        data = encode(event)
        assert json.loads(data)["type"] == type(event).__name__
        assert decode(data, type(event).__name__) == event
    assert all(name == cls.__name__ for name, cls in EVENT_TYPES.items())


def test_events_encoded_together_are_the_bytes_of_each_encoded_alone() -> None:
    """encode_all (the record path's one call) gives each event's own bytes, newlines in
    values included."""
    samples = [DvdAdded(dvd_id=1, title="Two\nlines\r\u2028", year=None),
               et.ItemProcessed(command_id="c", item="line:2", outcome="failed", reason="a\nb",
                                changes={"title": [None, "x\ny"]}),
               DvdAdded(dvd_id=2, title="")]
    assert et.encode_all(samples) == [encode(e) for e in samples]
    assert et.encode_all([]) == []


def test_old_row_missing_newer_fields_decodes_with_defaults() -> None:
    # As a version before `source`, `genres` and the detail fields existed would have written them.
    """Old row missing newer fields decodes with defaults."""
    old_added = b'{"type":"DvdAdded","dvd_id":7,"title":"Alien"}'
    old_details = b'{"type":"DvdDetailsRefreshed","dvd_id":7,"tagline":"In space..."}'
    added = decode(old_added, "DvdAdded", 1)
    details = decode(old_details, "DvdDetailsRefreshed", 1)
    assert added == DvdAdded(dvd_id=7, title="Alien", year=None, source="add")
    assert details.tagline == "In space..." and details.genres == [] and details.budget == 0
    assert details.imdb_id is None


def test_renamed_type_keeps_its_old_tag_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renamed type keeps its old tag readable."""
    monkeypatch.setitem(et.RENAMED, "DvdBought", "DvdAdded")
    event = decode(b'{"type":"DvdBought","dvd_id":2,"title":"Heat","year":1995}', "DvdBought", 1)
    assert event == DvdAdded(dvd_id=2, title="Heat", year=1995)


def test_upcaster_rewrites_rows_of_an_older_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    # Version 2 renamed DvdAdded.name to title; rows written at version 1 are upcast on read.
    """Upcaster rewrites rows of an older schema."""
    def v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
        raw["title"] = raw.pop("name")
        return raw

    monkeypatch.setattr(et, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(et.UPCASTERS, ("DvdAdded", 1), v1_to_v2)
    event = decode(b'{"type":"DvdAdded","dvd_id":4,"name":"Ran"}', "DvdAdded", 1)
    assert event == DvdAdded(dvd_id=4, title="Ran")
    # A row already at version 2 is not upcast again.
    assert decode(b'{"type":"DvdAdded","dvd_id":4,"title":"Ran"}', "DvdAdded", 2).title == "Ran"


def test_unknown_type_and_newer_version_are_refused() -> None:
    """Unknown type and newer version are refused."""
    with pytest.raises(UnknownEventType):
        decode(b'{"type":"DvdLent","dvd_id":1}', "DvdLent", 1)
    with pytest.raises(UnknownEventType):
        decode(b'{"type":"DvdAdded","dvd_id":1,"title":"x"}', "DvdAdded", et.SCHEMA_VERSION + 1)


def _write_rows(home: Path, rows: list[tuple[str, bytes, int]]) -> None:
    """Append hand-written rows (type, JSON, version) through the store, as an old tracker would."""
    with Database(home / "tracker.db") as db:
        db.store.append([NewRecord(t, data, None, None, v) for t, data, v in rows])


def test_database_replays_rows_of_old_versions(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Database replays rows of old versions."""
    cli = Cli(tmp_path, capsys)
    monkeypatch.setitem(et.RENAMED, "DvdBought", "DvdAdded")
    monkeypatch.setitem(et.UPCASTERS, ("DvdTmdbIdMatched", 0), lambda raw: {**raw, "tmdb_id": raw.pop("tmdb")})
    _write_rows(tmp_path, [
        ("DvdBought", b'{"type":"DvdBought","dvd_id":1,"title":"Heat"}', 1),
        ("DvdAdded", b'{"type":"DvdAdded","dvd_id":2,"title":"Ran","year":1985}', 1),
        ("DvdTmdbIdMatched", b'{"type":"DvdTmdbIdMatched","dvd_id":2,"tmdb":11645}', 0),
    ])
    assert cli.ok("replay") == "replayed 3 events; read tables rebuilt\n"
    dvds = cli.export("dvds")
    assert [(d["id"], d["title"], d["year"], d["tmdb_id"]) for d in dvds] == [
        (1, "Heat", None, None), (2, "Ran", 1985, 11645)]
    assert "verify: ok" in cli.ok("verify")


@pytest.mark.parametrize("args", [("history",), ("export", "dvds"), ("replay",),
                                  ("export", "dvds", "--as-of", "2100-01-01T00:00:00Z"),
                                  ("add", "Heat")])
def test_unknown_event_type_from_a_newer_tracker_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    """Unknown event type from a newer tracker exits 2."""
    cli = Cli(tmp_path, capsys)
    cli.ok("add", "Alien")
    _write_rows(tmp_path, [("DvdLent", b'{"type":"DvdLent","dvd_id":1,"to":"Sam"}', 1)])
    before = dump(cli.db)
    rc, _, err = cli(*args)
    assert rc == 2
    line = error_line(err)
    assert line.startswith(f"tracker {args[0]}: error: ")
    assert "DvdLent" in line and "newer" in line
    assert cli.count() == 6 and dump(cli.db) == before


def test_newer_schema_version_in_meta_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Newer schema version in meta exits 2."""
    cli = Cli(tmp_path, capsys)
    cli.ok("add", "Alien")
    with Database(cli.db) as db, db.atomic():
        db.store.set_meta("schema_version", str(et.SCHEMA_VERSION + 1))
    for args in (("history",), ("export", "dvds"), ("add", "Heat"), ("status",)):
        rc, _, err = cli(*args)
        assert rc == 2
        assert error_line(err) == (
            f"tracker {args[0]}: error: {cli.db}: written by a newer tracker (event schema "
            f"{et.SCHEMA_VERSION + 1}, this one reads up to {et.SCHEMA_VERSION}); upgrade tracker to use it")
    assert cli.count() == 5


def test_stored_data_is_plain_json_with_the_type_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Stored data is plain json with the type tag."""
    cli = Cli(tmp_path, capsys)
    cli.ok("add", "Alien", "--year", "1979")
    (_, _, command_id, data), = [e for e in cli.events() if e[1] == "DvdAdded"]
    assert data == {"type": "DvdAdded", "dvd_id": 1, "title": "Alien", "year": 1979, "tmdb_id": None,
                    "imdb_id": None, "uk_certification": None, "source": "add"}
    assert command_id and msgspec.json.decode(json.dumps(data).encode(), type=DvdAdded).title == "Alien"
