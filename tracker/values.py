"""Checks on values where they enter tracker: what SQLite can store, and text that is safe to show.

A value from an API answer, a CSV row, a flag or a setting passes through here before it can
reach an event: an integer outside SQLite's signed 64-bit range or a float that is not finite
would make the writer fail (and, before these checks, block the queue), and text with control,
bidirectional or zero-width characters can disguise what a title says or break one-line output.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

import msgspec

from tracker.errors import UnstorableValue

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
QUOTE_LIMIT = 80  # characters of an offending value an error message may show

# Removed from text: C0 controls but tab and newline, DEL and C1 controls, the bidirectional
# marks, embeddings, overrides and isolates, and zero-width characters (ZWSP, ZWNJ, ZWJ, word
# joiner, BOM). Lone surrogates cannot be encoded as UTF-8 at all, so they go too.
_UNSAFE_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]")


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for error messages about hostile values."""
    return shorten(repr(value), limit)


def clean_text(text: str) -> str:
    """``text`` without control, bidirectional-override and zero-width characters (CR as newline)."""
    if _UNSAFE_TEXT.search(text) is None:
        return text  # the common case: nothing to do, no copy
    return _UNSAFE_TEXT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def check_int(value: int, where: str) -> int:
    """``value`` if SQLite can store it (signed 64-bit); UnstorableValue naming ``where`` otherwise."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise UnstorableValue(f"{where}: integer {quote(value)} is outside SQLite's 64-bit range")
    return value


def check_float(value: float, where: str) -> float:
    """``value`` if it is finite; UnstorableValue naming ``where`` for NaN and infinities."""
    if not math.isfinite(value):
        raise UnstorableValue(f"{where}: {value} is not a finite number")
    return value


def sanitized(value: Any, where: str = "$") -> Any:
    """A decoded API answer with its text cleaned; UnstorableValue for numbers SQLite cannot hold.

    Walks Structs, lists and dicts; returns the same object when nothing needed cleaning (frozen
    Structs with dirty text are replaced by a cleaned copy).
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return check_int(value, where)
    if isinstance(value, float):
        return check_float(value, where)
    if isinstance(value, list):
        for i, item in enumerate(value):
            clean = sanitized(item, f"{where}[{i}]")
            if clean is not item:
                value[i] = clean
        return value
    if isinstance(value, dict):
        return {sanitized(k, where): sanitized(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, msgspec.Struct):
        return _sanitized_struct(value, where)
    return value


def _sanitized_struct(value: msgspec.Struct, where: str) -> msgspec.Struct:
    """A Struct with each field sanitized; a frozen one is copied only when a field changed."""
    changed: dict[str, Any] = {}
    for name in value.__struct_fields__:
        old = getattr(value, name)
        new = sanitized(old, f"{where}.{name}")
        if new is not old:
            changed[name] = new
    if not changed:
        return value
    if value.__struct_config__.frozen:
        return msgspec.structs.replace(value, **changed)
    for name, new in changed.items():
        setattr(value, name, new)
    return value


# --- flag types (argparse ``type=``): one-line refusals quoting the value briefly -------------


def whole_number(text: str, low: int, high: int) -> int:
    """``text`` as a whole number within low..high, or an argparse error quoting it briefly."""
    digits = text.strip()
    # int() would also take "1_000", "٣" and a 4,300-digit monster; a flag takes plain digits.
    if not re.fullmatch(r"[+-]?[0-9]{1,30}", digits):
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a whole number")
    value = int(digits)
    if value < low:
        floor = "greater than 0" if low == 1 else f"at least {low}"
        raise argparse.ArgumentTypeError(f"{quote(text)} must be {floor}")
    if value > high:
        raise argparse.ArgumentTypeError(f"{quote(text)} must be at most {high}")
    return value


def positive_int(text: str) -> int:
    """A whole number greater than 0 that SQLite can store (for --limit, --pages, --dvd)."""
    return whole_number(text, 1, INT64_MAX)


def non_negative_int(text: str) -> int:
    """A whole number of 0 or more that SQLite can store (sandbox counts and seeds)."""
    return whole_number(text, 0, INT64_MAX)


def port_number(text: str) -> int:
    """A TCP port, 1-65535."""
    return whole_number(text, 1, 65535)


def finite_float(text: str) -> float:
    """A finite number (not nan, not inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a finite number")
    return value
