"""Structured logging to stderr, with every secret redacted before a line is rendered.

structlog (and asyncio under it) is imported only when something first logs: commands that never
log, such as ``tracker status``, start without it. ``configure_logging`` before that point records
the wish, and the first log call applies it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import structlog

REDACTED = "***"
LONG_SECRET = 16  # characters; a real TMDB key has 32, a token hundreds

# A key can reach a message inside a URL even when it is not one of the configured secrets
# (say, a key pasted into a base URL), so query values and bearer tokens are masked by shape too.
_API_KEY_RE = re.compile(r"(?i)(api_key=)[^&\s\"'<>]+")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each secret, each ``api_key=...`` value and each bearer token replaced by ***.

    A secret is masked where it stands as a whole value, never inside a longer word: a key
    such as "the" must not turn every "other" into "o***r" (and so betray what the key is).
    """
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if secret not in text:
            continue  # the common case: not there, no regular expression needed
        # No word is LONG_SECRET long: such a secret is masked wherever it stands.
        long = len(secret) >= LONG_SECRET
        text = text.replace(secret, REDACTED) if long else _secret_re(secret).sub(REDACTED, text)
    text = _API_KEY_RE.sub(rf"\g<1>{REDACTED}", text)
    return _BEARER_RE.sub(rf"\g<1>{REDACTED}", text)


@functools.lru_cache(maxsize=16)
def _secret_re(secret: str) -> re.Pattern[str]:
    """The secret as a whole value: not preceded or followed by a letter or digit."""
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")


class Redactor:
    """A structlog processor masking secrets in every value of an event, nested ones included."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Remember the secrets to mask."""
        self.secrets = [s for s in secrets if s]

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Redact the event dict in place and return it."""
        for key, value in list(event_dict.items()):
            event_dict[key] = self._clean(value)
        return event_dict

    def _clean(self, value: Any) -> Any:
        """One value, redacted; anything that is not a plain scalar is rendered to text first."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._clean(v) for v in value]
        # URLs, exceptions and other objects render their own text, which may hold a secret.
        return redact(str(value), self.secrets)


_GONE = (OSError, ValueError, AttributeError)  # EPIPE, EIO; a closed file; no stderr at all


class _StderrNoMatterWhat:
    """sys.stderr (looked up at each write, so redirections are honoured) that never raises.

    A daemon whose stderr was closed or whose reader went away (a terminal closed, a pipe into
    a pager that quit) must go on with its work: a log line nobody can read is dropped.
    """

    def write(self, text: str) -> int:
        """Write ``text`` to stderr, or drop it if stderr is gone."""
        try:
            return sys.stderr.write(text)
        except _GONE:
            return 0

    def flush(self) -> None:
        """Flush stderr, if it is still there."""
        with contextlib.suppress(*_GONE):
            sys.stderr.flush()


_STDERR = _StderrNoMatterWhat()  # one object: structlog keeps a write lock per file object


def _stderr_logger_factory(*_args: Any) -> structlog.PrintLogger:
    """A logger writing to the current sys.stderr, dropping lines once nobody can read them."""
    import structlog
    return structlog.PrintLogger(file=_STDERR)


# The level and secrets asked for; until the CLI asks, warning level with shape-based redaction (and
# never structlog's own default, which prints everything to stdout and would corrupt --json output).
_wanted: dict[str, Any] = {"level": logging.WARNING, "secrets": (), "fmt": "console"}
_applied = False


def configure_logging(
    *, verbose: bool = False, debug: bool = False, secrets: Iterable[str] = (),
    fmt: str = "console", level: str | None = None,
) -> None:
    """Send structlog output to stderr: key=value lines or (``fmt="json"``) one JSON object a line.

    ``level`` (debug/info/warning/error) wins over ``verbose``/``debug``; the default is warning.
    Colours only on a terminal, so journald and log files get plain text.
    """
    if level is not None:
        threshold = getattr(logging, level.upper())
    else:
        threshold = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    _wanted.update(level=threshold, secrets=list(secrets), fmt=fmt)
    if _applied:
        _apply()


def _stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (and colour is wanted there: NO_COLOR turns it off)."""
    try:
        return sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    except (AttributeError, ValueError):
        return False


def _apply() -> None:
    """Configure structlog with what was asked for (importing it now)."""
    global _applied
    import structlog
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks become text before redaction, so a key inside one is masked too.
            structlog.processors.format_exc_info,
            Redactor(_wanted["secrets"]),
            structlog.processors.JSONRenderer() if _wanted["fmt"] == "json"
            else structlog.dev.ConsoleRenderer(colors=_stderr_is_terminal()),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_wanted["level"]),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )
    _applied = True


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
           "error": logging.ERROR, "exception": logging.ERROR, "critical": logging.CRITICAL}


def _below_level(*_args: Any, **_kwargs: Any) -> None:
    """A log call below the level asked for: nothing to write."""


class _Logger:
    """A named logger that imports and configures structlog on its first call, not on creation."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None

    def __getattr__(self, method: str) -> Any:
        """``info``, ``debug``, ``bind``...: structlog's, for this logger's name; a call below the
        level asked for, made before anything imported structlog, does nothing instead (importing
        it took 55 ms of a replay's start, for an info line nobody asked to see)."""
        if self._bound is None:
            if not _applied and _LEVELS.get(method, logging.CRITICAL) < _wanted["level"]:
                return _below_level
            import structlog
            if not _applied:
                _apply()
            self._bound = structlog.get_logger(logger_name=self._name)
        return getattr(self._bound, method)


def get_logger(name: str) -> Any:
    """A structlog logger whose lines carry the logger name (rendered in brackets); modules may
    make one at import time without importing structlog."""
    return _Logger(name)
