"""What the CLI prints: summaries, per-item changes, a progress bar, tables and exports."""

from __future__ import annotations

import csv
import io
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

import msgspec

from tracker.commands.base import FAILED, Item, Outcome

_json = msgspec.json.Encoder()


def json_line(obj: Any) -> str:
    """One compact JSON object, for --json outputs."""
    return _json.encode(obj).decode()


def print_summary(summary: dict[str, Any], *, as_json: bool, out: IO[str] | None = None) -> None:
    """The end-of-run summary: one JSON object with --json, else aligned lines."""
    out = out or sys.stdout  # looked up late: a redirected or captured stdout is honoured
    if as_json:
        print(json_line(summary), file=out)
        return
    title = f"{summary['command']} (command {summary['command_id']})"
    if summary.get("dry_run"):
        title += ": dry run, nothing was written"
    print(title, file=out)
    for key in ("processed", "updated", "skipped", "failed"):
        print(f"  {key:<10} {summary.get(key, 0):>7}", file=out)
    for failure in summary.get("failures", []):
        print(f"  failed {failure['item']}: {failure['reason']}", file=out)
    for skip in summary.get("skips", []):
        print(f"  skipped {skip['item']}: {skip['reason']}", file=out)
    for warning in summary.get("warnings", []):
        print(f"  warning: {warning}", file=out)
    for key, value in summary.items():
        if isinstance(value, dict) and key != "options":
            print(f"  {key.replace('_', ' ')}:", file=out)
            for name, count in value.items():
                print(f"    {name:<22} {count}", file=out)
        elif key not in ("command", "command_id", "dry_run", "processed", "updated", "skipped",
                         "failed", "failures", "skips", "status") and not isinstance(value, (list, dict)):
            print(f"  {key.replace('_', ' ')}: {'-' if value is None else value}", file=out)


def item_line(item: Item, outcome: Outcome) -> str:
    """One verbose line: the item, its outcome, and each changed field old -> new."""
    head = f"{item.key}: {outcome.kind}"
    if outcome.reason:
        head += f" ({outcome.reason})"
    changes = "; ".join(f"{k}: {_short(old)} -> {_short(new)}" for k, (old, new) in outcome.changes.items())
    return f"{head}  {changes}" if changes else head


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json_line(value)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Progress:
    """A one-line progress bar on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, label: str, *, stream: IO[str] | None = None, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr  # looked up late, like print_summary's stdout
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = self.failed = 0
        self.total: int | None = None
        self._drawn = 0.0

    def item(self, _item: Item, outcome: Outcome) -> None:
        """Count one finished item and redraw at most ten times a second."""
        self.done += 1
        self.failed += outcome.kind == FAILED
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
            writer.writerow({k: (json_line(v) if isinstance(v, (list, dict)) else v) for k, v in row.items()})
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
