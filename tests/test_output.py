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
    bar.items([(Item("dvd:1"), Outcome(UPDATED))])
    bar.items([(Item("dvd:2"), Outcome(FAILED, reason="not found"))])
    bar.draw(force=True)
    assert "refresh: [###############...............] 2/4, 1 failed" in stream.getvalue()
    bar.items([(Item(f"dvd:{n}"), Outcome(FAILED if n % 3 else UPDATED)) for n in range(3, 9)])  # a chunk at once
    bar.total = 10
    bar.draw(force=True)
    bar.close()
    text = stream.getvalue()
    assert "refresh: [########################......] 8/10, 5 failed" in text
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
    assert line == 'dvd:3: updated  director: - -> "David Fincher"; budget: 0 -> 63000000'


def test_item_line_names_a_dvd_by_title_and_shows_no_python_reprs() -> None:
    """A DVD's line carries its title; JSON text stored in a table reads as the list it holds."""
    changes = {"production_companies": ['["Pixar"]', ["Pixar", "Disney"]], "genre:28": [None, "Action (movie)"]}
    line = item_line(Item("dvd:7", {"id": 7, "title": "Toy Story"}), Outcome(UPDATED, changes=changes))
    assert line == ('dvd:7 (Toy Story): updated  production_companies: ["Pixar"] -> ["Pixar","Disney"]; '
                    'genre:28: - -> "Action (movie)"')


def test_a_long_list_value_says_how_many_items_were_left_out() -> None:
    """A list too long for the line shows whole items, then '... and N more'."""
    companies = ["Fox 2000 Pictures", "Regency Enterprises", "The Linson Company", "20th Century Fox", "Taurus Film"]
    line = item_line(Item("dvd:1"), Outcome(UPDATED, changes={"production_companies": [None, companies]}))
    assert line == ('dvd:1: updated  production_companies: - -> '
                    '["Fox 2000 Pictures","Regency Enterprises", ... and 3 more]')


def test_item_line_drops_a_reason_that_restates_the_item() -> None:
    """A failed CSV line reads 'line:19: failed (expected ...)', not 'line 19' twice."""
    line = item_line(Item("line:19", "line 19: expected 5 fields, found 3"),
                     Outcome(FAILED, reason="line 19: expected 5 fields, found 3"))
    assert line == "line:19: failed (expected 5 fields, found 3)"


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


def _summary_text(summary: dict, **flags: bool) -> list[str]:
    out = io.StringIO()
    base = {"command": "populate-db", "command_id": "abc", "processed": 0, "updated": 0, "skipped": 0, "failed": 0}
    print_summary({**base, **summary}, as_json=False, out=out, **flags)
    return out.getvalue().splitlines()


def test_text_summary_has_no_python_reprs_or_doubled_prefixes() -> None:
    """Booleans read yes/no, nested counts in columns, 'not found' and the line number said once."""
    lines = _summary_text({"failed": 2, "pages_clamped": True,
                           "failures": [{"item": "tv:1399", "reason": "not found: not found (HTTP 404) (/3/tv/1399)"},
                                        {"item": "line:19", "reason": "line 19: expected 5 fields, found 3"}],
                           "catalogue": {"movies": {"total": 39, "with_poster": 38}}})
    assert lines[5:] == ["  failed tv:1399: not found (HTTP 404) (/3/tv/1399)",
                         "  failed line:19: expected 5 fields, found 3",
                         "  pages clamped: yes",
                         "  catalogue:",
                         "    movies:",
                         "      total                  39",
                         "      with poster            38"]


def test_text_summary_cuts_long_lists_and_lists_skips_only_when_verbose() -> None:
    """Past 20 failures it says how many more; 'skipped: no change' lines only with --verbose."""
    failures = [{"item": f"dvd:{i}", "reason": "HTTP 503"} for i in range(25)]
    skips = [{"item": f"dvd:{i}", "reason": "no change"} for i in range(3)]
    telling = [{"item": "dvd:9", "reason": "changed at TMDB: would be refreshed"}]
    lines = _summary_text({"failed": 29, "skipped": 4, "failures": failures, "skips": skips + telling})
    assert lines[-3:] == ["  failed dvd:19: HTTP 503", "  ... and 9 more",
                          "  skipped dvd:9: changed at TMDB: would be refreshed"]
    assert not any("no change" in line for line in lines)
    verbose = _summary_text({"skipped": 3, "skips": skips}, verbose=True)
    assert verbose[-3:] == [f"  skipped dvd:{i}: no change" for i in range(3)]


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
