"""The audit side through the CLI: history, replay (live and as of a moment), verify, export --as-of."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path

from projections.export import export_rows
from projections.tables import EXPORTABLE
from tests.offline_support import Cli, dump, error_line, raw_conn


def _history(cli: Cli, *args: str) -> list[dict]:
    return [json.loads(line) for line in cli.ok("history", "--json", *args).splitlines()]


def _moment(cli: Cli) -> str:
    """The newest event's time, then a pause so later events are strictly after it."""
    at = _history(cli)[-1]["at"]
    time.sleep(0.01)
    return at


def test_history_filters_and_json_lines(cli: Cli) -> None:
    """History filters and json lines."""
    first = cli.json("add", "Heat", "--uk-certification", "15A")
    mark = _moment(cli)
    second = cli.json("add", "Alien")
    cli.ok("normalize-uk-certifications")
    rows = _history(cli)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert all({"seq", "type", "at", "command_id", "data"} <= set(r) for r in rows)
    assert all(isinstance(r["data"], dict) and r["data"]["type"] == r["type"] for r in rows)
    by_command = _history(cli, "--command", first["command_id"])
    assert {r["command_id"] for r in by_command} == {first["command_id"]}
    assert [r["type"] for r in by_command] == ["CommandRequested", "CommandStarted", "DvdAdded", "ItemProcessed",
                                               "CommandCompleted"]
    heat = _history(cli, "--dvd", "1")
    assert [r["type"] for r in heat] == ["DvdAdded", "DvdUkCertificationNormalized", "ItemProcessed"]
    assert heat[1]["data"]["uk_certification"] == "15a"
    added = _history(cli, "--type", "DvdAdded")
    assert [(r["data"]["dvd_id"], r["data"]["title"]) for r in added] == [(1, "Heat"), (2, "Alien")]
    assert len(_history(cli, "--type", "DvdAdded,CommandCompleted")) == 5
    since = _history(cli, "--since", mark)
    assert since == [r for r in rows if r["at"] >= mark]  # at or after
    assert second["command_id"] in {r["command_id"] for r in since}
    assert first["command_id"] not in {r["command_id"] for r in since[1:]}
    assert _history(cli, "--since", "2999-01-01") == []
    assert _history(cli, "--since", "2000-01-01T00:00:00+02:00") == rows
    text = cli.ok("history", "--type", "DvdAdded").splitlines()
    assert len(text) == 3 and text[0].endswith('add                          dvd:1        title: - -> "Heat"')
    assert text[1].endswith('uk_certification: - -> "15A"') and text[2].endswith('title: - -> "Alien"')


def test_replay_rebuilds_exactly_the_same_tables(cli: Cli) -> None:
    """Replay rebuilds exactly the same tables."""
    cli.ok("load-sample-data")
    cli.ok("add", "Heat", "--uk-certification", "15")
    cli.ok("create-initial-badges")
    cli.ok("normalize-uk-certifications")
    before = dump(cli.db)
    count = cli.count()
    assert cli.ok("replay") == f"replayed {count} events; read tables rebuilt\n"
    assert dump(cli.db) == before and cli.count() == count
    assert [p.name for p in (cli.home / "checkpoints").iterdir()] == [f"{count:012d}.db"]
    assert "verify: ok" in cli.ok("verify")


def test_replay_as_of_into_a_file_leaves_the_live_tables_alone(cli: Cli, tmp_path: Path) -> None:
    """Replay as of into a file leaves the live tables alone."""
    cli.ok("add", "Heat", "--uk-certification", "15A")
    cli.ok("add", "Alien")
    mark = _moment(cli)
    cli.ok("add", "Ran")
    cli.ok("normalize-uk-certifications")
    cli.ok("create-initial-badges")
    live = dump(cli.db)
    target = tmp_path / "then.db"
    out = cli.ok("replay", "--as-of", mark, "--into", str(target))
    assert out.startswith("replayed ") and out.endswith(f"events into {target}\n")
    conn = sqlite3.connect(target)
    then = {t: list(export_rows(conn, t)) for t in EXPORTABLE}
    conn.close()
    assert [(d["title"], d["uk_certification"]) for d in then["dvds"]] == [("Heat", "15A"), ("Alien", None)]
    assert then["badges"] == []
    assert dump(cli.db) == live
    # export --as-of gives the same past state without a file.
    assert cli.export("dvds", "--as-of", mark) == then["dvds"]
    assert [d["uk_certification"] for d in cli.export("dvds")] == ["15a", None, None]
    assert cli.export("dvds", "--as-of", "2000-01-01") == []


def test_replay_usage_errors(cli: Cli, tmp_path: Path) -> None:
    """Replay usage errors."""
    cli.ok("add", "Heat")
    before = dump(cli.db)
    for args, message in (
            (("replay", "--as-of", "2026-01-01T00:00:00Z"),
             "tracker replay: error: --as-of needs --into FILE: the live tables always hold the present"),
            (("replay", "--as-of", "soon", "--into", str(tmp_path / "x.db")),
             "tracker replay: error: --as-of: 'soon' is not an ISO 8601 time such as 2026-11-22T10:00:00Z"),
            (("replay", "--into", str(cli.db)), "tracker replay: error: --into: must not be the live database"),
            (("replay", "--into", str(tmp_path / "no" / "x.db")),
             f"tracker replay: error: --into: folder {tmp_path / 'no'} does not exist"),
            (("export", "dvds", "--as-of", "2026-13-01"),
             "tracker export: error: --as-of: '2026-13-01' is not an ISO 8601 time such as 2026-11-22T10:00:00Z")):
        rc, out, err = cli(*args)
        assert rc == 2 and out == "" and error_line(err) == message
    assert dump(cli.db) == before
    assert not (tmp_path / "x.db").exists()


def test_verify_lists_a_tampered_event_and_exits_1(cli: Cli) -> None:
    """Verify lists a tampered event and exits 1."""
    cli.ok("add", "Heat")
    cli.ok("add", "Alien")
    assert cli("verify")[0] == 0
    conn = raw_conn(cli.db)
    conn.execute("DROP TRIGGER events_no_update")
    seq = conn.execute("SELECT seq FROM events WHERE type = 'DvdAdded' ORDER BY seq LIMIT 1").fetchone()[0]
    conn.execute("UPDATE events SET data = json_set(data, '$.title', 'Forged') WHERE seq = ?", (seq,))
    conn.close()
    rc, out, err = cli("verify")
    assert rc == 1
    lines = out.splitlines()
    assert f"seq {seq}: hash does not match its content and predecessor" in lines
    assert 'dvds id 1: title is "Heat", a fresh replay gives "Forged"' in lines
    assert err.strip().startswith("verify: 2 difference(s) found in ")


def test_verify_catches_a_projection_edited_behind_the_log(cli: Cli) -> None:
    """Verify catches a projection edited behind the log."""
    cli.ok("add", "Heat", "--year", "1995")
    cli.ok("add", "Alien")
    conn = raw_conn(cli.db)
    conn.execute("UPDATE dvds SET year = 1996 WHERE id = 1")
    conn.execute("DELETE FROM dvds WHERE id = 2")
    conn.execute("INSERT INTO badges (name) VALUES ('Fake')")
    conn.close()
    rc, out, _ = cli("verify")
    assert rc == 1
    assert set(out.splitlines()) == {"dvds id 1: year is 1996, a fresh replay gives 1995",
                                     "dvds id 2: missing from the live table",
                                     "badges name Fake: not in a fresh replay"}
    cli.ok("replay")  # the cure: rebuild from the log
    assert cli("verify")[0] == 0
    assert [d["year"] for d in cli.export("dvds")] == [1995, None]


def test_only_tables_counted_as_differing_are_compared_row_by_row(cli: Cli, tmp_path: Path) -> None:
    """verify's SQL count picks the live tables that differ from a replay attached in a file:
    none when all are equal, each edited one otherwise (a value made NULL, a row deleted)."""
    from projections import snapshot
    from projections.tables import create_tables
    from tracker.db import Database

    cli.ok("add", "Heat", "--year", "1995")
    cli.ok("add", "Alien")
    with Database(cli.db) as db:
        fresh = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
        create_tables(fresh)
        db.fold(fresh)
        fresh.close()
        with snapshot.attached(db.conn, tmp_path / "fresh.db", "replayed"):
            assert snapshot.differing(db.conn, "replayed") == {}
            conn = raw_conn(cli.db)
            conn.execute("UPDATE dvds SET year = NULL WHERE id = 1")
            conn.execute("DELETE FROM command_items WHERE (command_id, item) ="
                         " (SELECT command_id, item FROM command_items LIMIT 1)")
            conn.close()
            assert snapshot.differing(db.conn, "replayed") == {"dvds": 1, "command_items": 1}


def test_verify_reports_a_row_that_no_longer_decodes(cli: Cli) -> None:
    """Verify reports a row that no longer decodes."""
    cli.ok("add", "Heat")
    conn = raw_conn(cli.db)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET data = '{broken' WHERE type = 'DvdAdded'")
    conn.close()
    rc, out, err = cli("verify")
    assert rc == 1
    assert any("hash does not match" in line for line in out.splitlines()), (out, err)
    assert any("cannot be decoded" in line for line in out.splitlines()), (out, err)


def test_history_refuses_an_unknown_event_type(tmp_path: Path, capsys) -> None:
    """history --type with a type no event has is bad usage (exit 2), not an empty answer."""
    from tracker.cli.main import main
    assert main(["--home", str(tmp_path), "add", "Alien"]) == 0
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "history", "--type", "DvdAdded,DvdLent"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tracker history: error: --type: unknown event type 'DvdLent' (known: ")


def _checkpoint_tables(path: Path) -> dict[str, list[dict]]:
    conn = sqlite3.connect(path)
    try:
        return {t: list(export_rows(conn, t)) for t in EXPORTABLE}
    finally:
        conn.close()


def test_time_travel_starts_from_the_nearest_checkpoint(cli: Cli, tmp_path: Path) -> None:
    """replay/export --as-of start from the newest checkpoint at or before the moment, and agree with a full replay."""
    cli.ok("add", "Heat", "--uk-certification", "15A")
    early = _moment(cli)
    cli.ok("add", "Ran")
    out = cli.ok("checkpoint")
    seq = cli.count()
    assert out.startswith(f"checkpoint saved at seq {seq} (") and out.endswith("; 1 kept\n")
    cli.ok("add", "Alien", "--uk-certification", "PG")
    mark = _moment(cli)
    cli.ok("normalize-uk-certifications")
    target = tmp_path / "then.db"
    out = cli.ok("replay", "--as-of", mark, "--into", str(target))
    reached = [r["seq"] for r in _history(cli) if r["at"] <= mark][-1]
    assert out == f"replayed {reached} events (from the checkpoint at seq {seq}, then {reached - seq}) into {target}\n"
    then = _checkpoint_tables(target)
    assert [(d["title"], d["uk_certification"]) for d in then["dvds"]] == [("Heat", "15A"), ("Ran", None),
                                                                            ("Alien", "PG")]
    assert cli.export("dvds", "--as-of", mark) == then["dvds"]
    # Before the checkpoint: it cannot be used, so the rebuild starts from the first event.
    out = cli.ok("replay", "--as-of", early, "--into", str(target), "--force")
    assert out == f"replayed {seq - 5} events into {target}\n"
    assert [d["title"] for d in cli.export("dvds", "--as-of", early)] == ["Heat"]


def test_a_checkpoint_whose_hash_does_not_match_is_never_used(cli: Cli, tmp_path: Path) -> None:
    """A checkpoint not matching the log's chain hash at its seq is ignored by time travel and reported by verify."""
    cli.ok("add", "Heat")
    cli.ok("checkpoint")
    seq = cli.count()
    path = cli.home / "checkpoints" / f"{seq:012d}.db"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE snapshot SET value = ? WHERE key = 'hash'", ("f" * 64,))
    conn.execute("UPDATE dvds SET title = 'Forged'")
    conn.commit()
    conn.close()
    cli.ok("add", "Alien")
    mark = _moment(cli)
    target = tmp_path / "then.db"
    assert cli.ok("replay", "--as-of", mark, "--into", str(target)) == f"replayed {cli.count()} events into {target}\n"
    assert [d["title"] for d in cli.export("dvds", "--as-of", mark)] == ["Heat", "Alien"]
    rc, out, _err = cli("verify")
    assert rc == 1
    assert out.splitlines() == [f"checkpoint {path.name}: its hash does not match the log's at seq {seq} "
                                "(it is never used)"]


def test_verify_catches_a_checkpoint_that_disagrees_with_the_log(cli: Cli) -> None:
    """A checkpoint whose hash matches but whose tables differ from a replay to its seq fails verify."""
    cli.ok("add", "Heat")
    cli.ok("add", "Alien")
    cli.ok("checkpoint")
    assert "verify: ok" in cli.ok("verify")
    path = cli.home / "checkpoints" / f"{cli.count():012d}.db"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE dvds SET year = 1999 WHERE id = 2")
    conn.execute("DELETE FROM command_items")
    conn.commit()
    conn.close()
    rc, out, err = cli("verify")
    hint = " (delete it; tracker checkpoint saves a new one)"
    assert rc == 1 and err.startswith("verify: 2 difference(s) found")
    assert out.splitlines() == [
        f"checkpoint {path.name}: dvds: 1 row(s) differ from a replay of the log to seq {cli.count()}{hint}",
        f"checkpoint {path.name}: command_items: 2 row(s) differ from a replay of the log to seq {cli.count()}{hint}"]


def test_verify_during_writes_sees_one_snapshot(cli: Cli) -> None:
    """verify while another connection keeps appending never reports a difference."""
    import threading

    from events.types import DvdAdded
    from tracker.db import Database

    cli.ok("add", "Seed")
    stop = threading.Event()

    def write() -> None:
        with Database(cli.db) as db:
            while not stop.is_set():
                db.record([DvdAdded(dvd_id=0, title="Busy")])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        results = [cli("verify") for _ in range(5)]
    finally:
        stop.set()
        writer.join()
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * 5


def test_a_save_sweeps_temporary_files_of_killed_saves(cli: Cli) -> None:
    """A checkpoint's temp file left by a process killed while saving is deleted by the next save;
    one of a process still alive is left alone."""
    import subprocess
    import sys
    cli.ok("add", "Heat")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    folder = cli.home / "checkpoints"
    folder.mkdir(exist_ok=True)
    dead = [folder / f".tmp-{gone}.db", folder / f".tmp-{gone}.db-journal"]
    alive = folder / ".tmp-1.db"  # pid 1 lives as long as the machine does
    for path in (*dead, alive):
        path.write_bytes(b"half a checkpoint")
    cli.ok("checkpoint")
    assert not any(p.exists() for p in dead)
    assert alive.exists()
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-1.db", f"{cli.count():012d}.db"]


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so a progress bar draws into it."""

    def isatty(self) -> bool:
        return True


def test_replay_and_verify_draw_a_bar_on_a_terminal_only(cli: Cli, monkeypatch) -> None:
    """A replay or verify draws its progress (seq reached of the log's) on a terminal's stderr
    and clears it; on anything else it writes nothing and folds with no callback. (A log this
    small is one chunk: its one draw is the whole.)"""
    from tracker.cli import audit_commands
    from tracker.db import Database

    for title in ("Heat", "Alien", "Ran"):
        cli.ok("add", title)
    with Database(cli.db) as db:
        count = db.store.count()
        terminal = _Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        with audit_commands._folding_progress(db, "replay"):
            assert db.on_folded is not None
            db.replay()
        assert f"\rreplay: [{'#' * 30}] {count}/{count}" in terminal.getvalue()
        assert terminal.getvalue().endswith("\r\033[K") and db.on_folded is None
        plain = io.StringIO()
        monkeypatch.setattr("sys.stderr", plain)
        with audit_commands._folding_progress(db, "verify"):
            assert db.on_folded is None
            db.replay()
        assert plain.getvalue() == ""
