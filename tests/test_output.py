"""What the CLI prints: the terminal progress bar, verbose item lines, summaries and exports."""

from __future__ import annotations

import io

from tracker.cli.output import Progress, item_line, print_summary, write_export
from tracker.commands.base import FAILED, UPDATED, Item, Outcome


class Tty(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        """It is, for the bar's purposes."""
        return True


def test_progress_bar_draws_on_a_terminal_and_clears() -> None:
    """On a terminal the bar shows done/total and failures, then clears its line."""
    stream = Tty()
    bar = Progress("refresh", stream=stream)
    bar.set(0, 4)
    bar.item(Item("dvd:1"), Outcome(UPDATED))
    bar.item(Item("dvd:2"), Outcome(FAILED, reason="not found"))
    bar.draw(force=True)
    bar.close()
    text = stream.getvalue()
    assert "refresh: [###############...............] 2/4, 1 failed" in text
    assert text.endswith("\r\033[K")


def test_progress_is_silent_off_a_terminal() -> None:
    """Piped or redirected, the bar writes nothing (scripts read clean output)."""
    stream = io.StringIO()
    bar = Progress("refresh", stream=stream)
    bar.set(1, 2)
    bar.close()
    assert stream.getvalue() == ""


def test_item_line_shows_each_change() -> None:
    """A verbose line names the item, its outcome and each field old -> new."""
    line = item_line(Item("dvd:3"), Outcome(UPDATED, changes={"director": [None, "David Fincher"],
                                                               "budget": [0, 63000000]}))
    assert line == "dvd:3: updated  director: null -> 'David Fincher'; budget: 0 -> 63000000"


def test_text_summary_lists_counts_failures_and_field_counts() -> None:
    """The text summary has the four counts, each failure with its reason, and nested counts."""
    out = io.StringIO()
    print_summary({"command": "refresh-missing-details", "command_id": "abc", "dry_run": True,
                   "processed": 2, "updated": 1, "skipped": 0, "failed": 1,
                   "failures": [{"item": "dvd:9", "reason": "not found: HTTP 404"}],
                   "fields_held": {"director": 1}}, as_json=False, out=out)
    text = out.getvalue()
    assert text.splitlines()[0] == "refresh-missing-details (command abc): dry run, nothing was written"
    assert "  failed           1" in text and "  failed dvd:9: not found: HTTP 404" in text
    assert "    director               1" in text


def test_exports_in_three_formats() -> None:
    """json is one array, jsonl a line a row, csv a header then rows with lists as JSON."""
    rows = [{"id": 1, "genres": ["Drama"]}, {"id": 2, "genres": []}]
    out = io.StringIO()
    write_export(iter(rows), "json", out)
    assert out.getvalue() == '[\n{"id":1,"genres":["Drama"]},\n{"id":2,"genres":[]}\n]\n'
    out = io.StringIO()
    write_export(iter(rows), "jsonl", out)
    assert out.getvalue() == '{"id":1,"genres":["Drama"]}\n{"id":2,"genres":[]}\n'
    out = io.StringIO()
    write_export(iter(rows), "csv", out)
    assert out.getvalue() == 'id,genres\n1,"[""Drama""]"\n2,[]\n'
