"""Checks on settings as they load: each kind's type and range, and the home folder itself.

Every refusal is one line naming the setting and where its value came from (a flag, a variable,
tracker.toml); a secret's value is never quoted. A setting that slipped through unchecked used
to do real harm: an enormous concurrency grew to 24 GB, an infinite rate slept for ever, a list
became a URL, ``true`` became 1.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tracker.errors import ConfigError
from tracker.values import quote

MAX_RATE_PER_S = 10_000.0
CONCURRENCY_RANGE = (1, 256)
ATTEMPTS_RANGE = (1, 100)
MAX_SECONDS = 3600.0
_WHOLE = re.compile(r"[+-]?[0-9]{1,30}")


def check(name: str, raw: Any, kind: str, source: str) -> Any:
    """``raw`` (text from a flag or variable, or a TOML value) as a valid value of ``kind``."""
    return _KINDS[kind](name, raw, f"{source}: {name}")


def _shown(raw: Any) -> str:
    """How a refused value is quoted: briefly, with its TOML type when it is not text."""
    return quote(raw) if isinstance(raw, str) else f"{quote(raw)} ({_type_name(raw)})"


def _type_name(raw: Any) -> str:
    """A TOML-ish name for a value's type, for messages."""
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text",
             list: "a list", dict: "a table"}
    return next((n for t, n in names.items() if isinstance(raw, t)), type(raw).__name__)


def _number(name: str, raw: Any, where: str, *, whole: bool) -> float | int:
    """A number from text or TOML; never a bool, a list or (for whole numbers) a fraction."""
    wanted = "a whole number" if whole else "a number"
    original = raw
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ConfigError(f"{where} must be {wanted}, got {_shown(raw)}")
    if isinstance(raw, str):
        text = raw.strip()
        if whole and not _WHOLE.fullmatch(text):
            raise ConfigError(f"{where} must be {wanted}, got {_shown(raw)}")
        try:
            raw = int(text) if whole else float(text)
        except ValueError:
            raise ConfigError(f"{where} must be {wanted}, got {_shown(raw)}") from None
    if whole and isinstance(raw, float):
        raise ConfigError(f"{where} must be {wanted}, got {_shown(original)}")
    if not math.isfinite(raw):
        raise ConfigError(f"{where} must be a finite number, got {_shown(original)}")
    return raw


def _in_range(name: str, raw: Any, where: str, low: float, high: float, *, whole: bool,
              open_low: bool = False) -> Any:
    """A number within low..high (above low when ``open_low``)."""
    value = _number(name, raw, where, whole=whole)
    if (value <= low if open_low else value < low) or value > high:
        lower = f"greater than {low:g}" if open_low else f"from {low:g}"
        span = f"{lower} and at most {high:g}" if open_low else f"{lower} to {high:g}"
        raise ConfigError(f"{where} must be {span}, got {_shown(raw)}")
    return value if whole else float(value)


def _rate(name: str, raw: Any, where: str) -> float:
    return _in_range(name, raw, where, 0, MAX_RATE_PER_S, whole=False, open_low=True)


def _seconds(name: str, raw: Any, where: str) -> float:
    return _in_range(name, raw, where, 0, MAX_SECONDS, whole=False, open_low=True)


def _concurrency(name: str, raw: Any, where: str) -> int:
    return _in_range(name, raw, where, *CONCURRENCY_RANGE, whole=True)


def _attempts(name: str, raw: Any, where: str) -> int:
    return _in_range(name, raw, where, *ATTEMPTS_RANGE, whole=True)


def _secret(name: str, raw: Any, where: str) -> str:
    """A key or token: one word of printable text; its value is never quoted back."""
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be text, got {_type_name(raw)} (value not shown)")
    text = raw.strip()
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ConfigError(f"{where} must be one word of printable characters (value not shown)")
    return text


def _url(name: str, raw: Any, where: str) -> str:
    """A base URL: http or https, a host, no user name or password, no query; no trailing /."""
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be a URL as text, got {_shown(raw)}")
    text = raw.strip()
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port  # the port is parsed (and checked) here
    except ValueError as exc:
        raise ConfigError(f"{where} is not a valid URL ({exc}): {quote(_without_userinfo(text))}") from None
    if "@" in parts.netloc:
        # Credentials in a URL end up in messages, logs and the log for ever: refused outright.
        raise ConfigError(f"{where} must not hold a user name or password "
                          f"({quote(_without_userinfo(text))}); give TMDB_API_KEY or "
                          "TMDB_ACCESS_TOKEN instead")
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{where} must be an http:// or https:// URL with a host, got {quote(text)}")
    if parts.query or parts.fragment or any(not ch.isprintable() or ch.isspace() for ch in text):
        raise ConfigError(f"{where} must be a plain base URL (no query, fragment or spaces), "
                          f"got {quote(_without_userinfo(text))}")
    return text.rstrip("/")


def _without_userinfo(text: str) -> str:
    """A URL with any user name and password replaced by ***."""
    return re.sub(r"(?<=//)[^/@?#]*@", "***@", text)


_KINDS = {"secret": _secret, "url": _url, "rate": _rate, "seconds": _seconds,
          "concurrency": _concurrency, "attempts": _attempts}


def home_folder(flag: Any, env: Mapping[str, str], default: str) -> Path:
    """The home folder from --home, TRACKER_HOME or the default, refused when it cannot be one."""
    if flag is not None:
        raw, source = str(flag), "--home"
    elif env.get("TRACKER_HOME"):
        raw, source = env["TRACKER_HOME"], "TRACKER_HOME"
    else:
        raw, source = default, "the default home"
    if not raw.strip():
        raise ConfigError(f"{source}: the home folder is empty; give a folder (or leave it out "
                          f"for {default})")
    if "\x00" in raw:
        raise ConfigError(f"{source}: the home folder {quote(raw)} holds a NUL character")
    try:
        home = Path(raw).expanduser()
    except RuntimeError:  # "~nouser/x": no such user, or no HOME to expand "~" with
        raise ConfigError(f"{source}: cannot expand {quote(raw)}: no such user's home") from None
    refuse_unusable_home(home, source)
    return home


def refuse_unusable_home(home: Path, source: str) -> None:
    """ConfigError when ``home`` is a file, a device, under a file, or has too long a name."""
    try:
        mode = os.stat(home).st_mode
    except FileNotFoundError:
        _refuse_file_on_path(home, source)
        return
    except NotADirectoryError:
        _refuse_file_on_path(home, source)
        raise ConfigError(f"{source}: {quote(str(home))} is under a file, not a folder") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot use {quote(str(home))} as the home folder: "
                          f"{exc.strerror or exc}") from None
    if not stat.S_ISDIR(mode):
        what = "a file" if stat.S_ISREG(mode) else "a device or special file"
        raise ConfigError(f"{source}: {quote(str(home))} is {what}, not a folder")


def _refuse_file_on_path(home: Path, source: str) -> None:
    """A missing home is made later; refuse now if a parent of it is a regular file."""
    for parent in home.absolute().parents:
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            continue
        if not stat.S_ISDIR(mode):
            raise ConfigError(f"{source}: {quote(str(home))} is under {quote(str(parent))}, "
                              "which is a file, not a folder")
        return
