"""What the CLI prints: summaries, per-item changes, a progress bar, tables and exports."""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import IO, Any

import msgspec

from tracker.commands.base import FAILED, NO_CHANGE, Item, Outcome
from tracker.textfmt import cut_list, reason_text, value_text

_json = msgspec.json.Encoder()


def json_line(obj: Any) -> str:
    """One compact JSON object, for --json outputs."""
    return _json.encode(obj).decode()


# Summary keys printed by the head of the summary (or not at all in text).
_SHOWN_FIRST = ("command", "command_id", "dry_run", "processed", "updated", "skipped", "failed", "failures",
                "skips", "warnings", "status", "options")


def print_summary(summary: dict[str, Any], *, as_json: bool, verbose: bool = False,
                  out: IO[str] | None = None) -> None:
    """The end-of-run summary: one JSON object with --json, else aligned lines.

    Failures are listed (the first 20, then how many more); items skipped for "no change" only
    with ``verbose``.
    """
    out = out or sys.stdout  # looked up late: a redirected or captured stdout is honoured
    if as_json:
        print(json_line(summary), file=out)
        return
    title = f"{summary['command']} (command {summary['command_id']})"
    if summary.get("dry_run"):
        title += ": dry run, nothing was written"
    lines = [title, *(f"  {key:<10} {summary.get(key, 0):>7}" for key in ("processed", "updated", "skipped", "failed"))]
    failures = [f"failed {f['item']}: {reason_text(f['item'], f['reason'])}" for f in summary.get("failures", [])]
    lines += [f"  {line}" for line in cut_list(failures, summary.get("failed", len(failures)))]
    # "no change" is what a routine run says of most items: listed only with --verbose
    skips = [f"skipped {s['item']}: {reason_text(s['item'], s['reason'])}" for s in summary.get("skips", [])
             if verbose or s["reason"] != NO_CHANGE]
    lines += [f"  {line}" for line in cut_list(skips, len(skips))]
    lines += [f"  warning: {w}" for w in summary.get("warnings", [])]
    for key, value in summary.items():
        if key not in _SHOWN_FIRST:
            lines += _extra_lines(key, value, indent="  ")
    print("\n".join(lines), file=out)


def _extra_lines(key: str, value: Any, *, indent: str, in_table: bool = False) -> list[str]:
    """A command's own summary field: ``name: value``, or a heading over its fields in columns."""
    name = key.replace("_", " ")
    if isinstance(value, dict):
        return [f"{indent}{name}:", *(line for k, v in value.items()
                                      for line in _extra_lines(k, v, indent=indent + "  ", in_table=True))]
    if isinstance(value, list):
        text = ", ".join(v if isinstance(v, str) else value_text(v) for v in value) or "-"
    else:
        text = value if isinstance(value, str) else value_text(value)
    return [f"{indent}{name:<22} {text}" if in_table else f"{indent}{name}: {text}"]


def _title(payload: Any) -> str | None:
    """The title an item's payload carries (a DVD row, say), if any."""
    title = payload.get("title") if isinstance(payload, dict) else getattr(payload, "title", None)
    return title if isinstance(title, str) and title else None


def print_line_or_quiet(line: str, out: IO[str]) -> None:
    """Print one line; if the reader went away (``tracker ... --verbose | head``), print no more.

    The command itself goes on and its work is recorded: a closed pipe ends what is shown, not
    what is done, so the stream is pointed at /dev/null rather than the error raised mid-run.
    """
    try:
        print(line, file=out, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def item_line(item: Item, outcome: Outcome) -> str:
    """One verbose line: the item (with its title when it has one), its outcome, each change old -> new."""
    title = _title(item.payload)
    head = f"{item.key} ({title}): {outcome.kind}" if title else f"{item.key}: {outcome.kind}"
    if outcome.reason:
        head += f" ({reason_text(item.key, outcome.reason)})"
    changes = "; ".join(f"{k}: {value_text(old)} -> {value_text(new)}" for k, (old, new) in outcome.changes.items())
    return f"{head}  {changes}" if changes else head


class Progress:
    """A one-line progress bar on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, label: str, *, stream: IO[str] | None = None, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr  # looked up late, like print_summary's stdout
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = self.failed = 0
        self.total: int | None = None
        self._drawn = 0.0

    def items(self, done: list[tuple[Item, Outcome]]) -> None:
        """Count finished items and redraw at most ten times a second."""
        self.done += len(done)
        self.failed += [outcome.kind for _item, outcome in done].count(FAILED)
        if self.enabled:  # told here, not in draw: no clock read per item when nothing is drawn
            self.draw()

    def set(self, done: int, total: int | None, failed: int = 0) -> None:
        """Show progress read from elsewhere (a daemon's run)."""
        self.done, self.total, self.failed = done, total, failed
        self.draw()

    def draw(self, force: bool = False) -> None:
        """Redraw the bar."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < 0.1):
            return
        self._drawn = now
        if self.total:
            filled = int(30 * min(self.done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done} done"
        fail = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r{self.label}: {bar}{fail}\033[K")
        self.stream.flush()

    def close(self) -> None:
        """Clear the bar's line."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """One exported CSV cell: lists as JSON, text a spreadsheet would run quoted with a '.

    Numbers stay numbers (a negative number is a number, not a formula); only text is
    neutralised, as OWASP advises, by a leading single quote.
    """
    if isinstance(value, (list, dict)):
        value = json_line(value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_export(rows: Iterable[dict[str, Any]], fmt: str, out: IO[str] | None = None) -> int:
    """Write rows as one JSON array, JSON lines, or CSV (lists as JSON in a cell); rows written."""
    out = out or sys.stdout
    count = 0
    if fmt == "csv":
        writer = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
            count += 1
        return count
    if fmt == "jsonl":
        for row in rows:
            out.write(json_line(row) + "\n")
            count += 1
        return count
    out.write("[")
    for row in rows:
        out.write(("," if count else "") + "\n" + json_line(row))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_csv_export(fields: Sequence[str], batches: Iterable[list[list[Any]]], out: IO[str]) -> int:
    """Write batches of value lists as CSV, as ``write_export`` does (no header without rows); rows written."""
    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for batch in batches:
        if batch and not count:
            writer.writerow(fields)
        writer.writerows([_csv_cells(row) for row in batch])
        count += len(batch)
    return count


def _csv_cells(row: list[Any]) -> list[Any]:
    """``csv_cell`` of each value, the common cases inline (a function call a cell costs much)."""
    return [("'" + v if v.startswith(_FORMULA_STARTS) else v) if type(v) is str
            else (csv_cell(v) if isinstance(v, (list, dict)) else v) for v in row]


def write_encoded_export(batches: Iterable[list[Any]], fmt: str, out: IO[bytes]) -> int:
    """Write batches of rows (Structs) as one JSON array or JSON lines, a batch a write; rows written.

    The bytes are those ``write_export`` writes for the same rows: only faster.
    """
    count = 0
    if fmt == "jsonl":
        for batch in batches:
            out.write(_json.encode_lines(batch))
            count += len(batch)
        return count
    out.write(b"[")
    for batch in batches:
        if batch:
            out.write((b",\n" if count else b"\n") + b",\n".join(map(_json.encode, batch)))
            count += len(batch)
    out.write(b"\n]\n" if count else b"]\n")
    return count


def write_lines_export(lines: Iterable[bytes | memoryview], fmt: str, out: IO[bytes]) -> None:
    """Write chunks of JSON lines (whole lines, each ending in a newline) as JSON lines or one array.

    The bytes are those ``write_encoded_export`` writes for the same rows. A line holds no
    newline of its own (msgspec escapes one in a string as \\n), so each newline ends a row.
    """
    if fmt == "jsonl":
        for chunk in lines:
            out.write(chunk)
        return
    out.write(b"[")
    first = True
    for chunk in lines:
        if len(chunk):
            out.write((b"\n" if first else b",\n") + bytes(chunk[:-1]).replace(b"\n", b",\n"))
            first = False
    out.write(b"]\n" if first else b"\n]\n")


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned text table."""
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    buf = io.StringIO()
    buf.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        buf.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return buf.getvalue()


def rows_or_empty(rows: list[dict[str, Any]], as_json: bool, empty: str) -> bool:
    """With --json, one object per line; with nothing to show, say so. True when done."""
    if as_json:
        for row in rows:
            print(json_line(row))
        return True
    if not rows:
        print(empty)
        return True
    return False
