"""How values read for people in text output (``--json`` output never goes through here)."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec

_json = msgspec.json.Encoder()


def value_text(value: Any, limit: int = 60) -> str:
    """A value for people: - for none, yes/no, strings in double quotes, lists as JSON; long ones cut.

    A string holding a JSON list or object (as a read table stores them) reads as that list or object.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value[:1] in ("[", "{"):
        with contextlib.suppress(msgspec.DecodeError):
            value = msgspec.json.decode(value)
    text = _json.encode(value).decode()
    if len(text) <= limit:
        return text
    if isinstance(value, list):  # whole items, then how many were left out
        shown = 1
        while shown < len(value) and len(_json.encode(value[: shown + 1])) <= limit:
            shown += 1
        return f"{_json.encode(value[:shown]).decode()[:-1]}, ... and {len(value) - shown} more]"
    return text[: limit - 3] + "..."


def reason_text(item: str, reason: str) -> str:
    """A reason without what its line already says: the item restated ("line 19: ...") or a doubled
    lead-in ("not found: not found (HTTP 404)")."""
    kind, _, number = item.partition(":")
    if number and reason.startswith(f"{kind} {number}: "):
        reason = reason[len(kind) + len(number) + 3:]
    lead, colon, rest = reason.partition(": ")
    return rest if colon and lead and rest.startswith(lead) else reason


def cut_list(lines: list[str], total: int, shown: int = 20) -> list[str]:
    """At most ``shown`` of ``lines``, then "... and N more" for the rest of ``total``."""
    kept = lines[:shown]
    left_out = total - len(kept)
    return [*kept, f"... and {left_out} more"] if left_out > 0 else kept
