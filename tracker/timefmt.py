"""Parsing user-given ISO 8601 times into the log's own ``at`` format."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.errors import UsageError


def parse_iso(value: str, flag: str) -> str:
    """A time like ``2026-11-22T10:00:00Z`` (or a date) as the log's UTC ``at`` text, or exit 2."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {value!r} is not an ISO 8601 time such as 2026-11-22T10:00:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without a zone is UTC, as every stored time is
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

