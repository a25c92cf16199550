"""Parsing user-given ISO 8601 times into the log's own ``at`` format."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.errors import UsageError
from tracker.values import quote


def parse_iso(value: str, flag: str) -> str:
    """A time like ``2026-11-22T10:00:00Z`` (or a date) as the log's UTC ``at`` text, or exit 2."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {quote(value)} is not an ISO 8601 time such as "
                         "2026-11-22T10:00:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without a zone is UTC, as every stored time is
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 at +05:00 is a moment before year 1 in UTC
        raise UsageError(f"{flag}: {quote(value)} is outside the years 1-9999 in UTC") from exc
    # isoformat, not strftime: "%Y" writes year 999 as "999", which sorts after "2026".
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

