"""verify's hash chain check in a second process: the same problems as checking it in one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from events import types as et
from tracker import chain_check
from tracker.audit import verify
from tracker.db import Database

BROKEN = "seq 3: hash does not match its content and predecessor"


def _log_with_an_edited_row(path: Path) -> None:
    """A small log whose third row was edited behind the store's back."""
    with Database(path) as db:
        for i in range(4):
            db.record([et.DvdAdded(dvd_id=0, title=f"Film {i}")])
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET subject = 'dvd:99' WHERE seq = 3")  # covered by the hash; no fold reads it
    conn.commit()
    conn.close()


@pytest.mark.parametrize("module", ["tracker.chain_check", "tracker.no_such_module"])
def test_verify_finds_a_broken_link_through_a_second_process_or_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """With the check in a second process, verify reports the broken hash; when that process
    cannot run, verify checks the chain itself and reports the same."""
    monkeypatch.setattr(chain_check, "MIN_EVENTS", 0)
    monkeypatch.setattr(chain_check, "CHECK_MODULE", module)
    ran: list[list[str] | None] = []
    real = chain_check.ChainCheck.problems

    def seen(self: chain_check.ChainCheck) -> list[str] | None:
        ran.append(real(self))
        return ran[-1]
    monkeypatch.setattr(chain_check.ChainCheck, "problems", seen)
    path = tmp_path / "tracker.db"
    _log_with_an_edited_row(path)
    with Database(path) as db:
        problems = verify(db)
    assert BROKEN in problems
    assert ran == ([[BROKEN]] if module == "tracker.chain_check" else [None])


def test_the_second_process_checks_only_to_the_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows past the seq verify's snapshot ends at are not the second process's to check; a
    small log is checked by verify itself (no process)."""
    monkeypatch.setattr("signal.signal", lambda *_: None)  # main() ignores Ctrl-C in its process only
    monkeypatch.setattr(chain_check, "exit_with_parent", lambda: None)  # nor watch for this one to end
    path = tmp_path / "tracker.db"
    _log_with_an_edited_row(path)
    assert chain_check.main([str(path), "2"]) == 0
    assert capsys.readouterr().out == ""
    assert chain_check.main([str(path), "3"]) == 0
    assert capsys.readouterr().out == f"{BROKEN}\n"
    with chain_check.started(path, 4) as check:  # below MIN_EVENTS
        assert check.problems() is None
