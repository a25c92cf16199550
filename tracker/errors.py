"""The one exception hierarchy of tracker; every I/O boundary raises from the underlying error."""

from __future__ import annotations

import errno

# The store's own errors, re-exported: ``events`` imports nothing from ``tracker``.
from events.errors import NotATrackerDatabase as NotATrackerDatabase
from events.errors import StoreError as StoreError


class TrackerError(Exception):
    """Root of every error tracker raises on purpose; the CLI prints its message on one line."""

    exit_code = 1


class UsageError(TrackerError):
    """Bad usage or bad input: exit 2, nothing written."""

    exit_code = 2


class BadInputError(UsageError):
    """A file or value the user gave cannot be read as asked."""


class UnstorableValue(BadInputError):
    """A value SQLite cannot store (an integer beyond 64 bits, NaN, infinity): refused on entry."""


class ConfigError(UsageError):
    """The configuration (flags, environment, tracker.toml) is invalid."""


class NewerSchemaError(StoreError):
    """The log holds events written by a newer tracker than this one."""

    exit_code = 2


class EngineBusy(TrackerError):
    """Another engine holds the database; ``holder`` says who, when the lock file tells."""

    def __init__(self, message: str, *, holder: object = None) -> None:
        super().__init__(message)
        self.holder = holder


class Interrupted(TrackerError):
    """A run stopped by a signal: recorded work is kept; exit 128 + the signal (130 for Ctrl-C)."""

    exit_code = 130

    def __init__(self, message: str, *, signum: int = 2) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class DiskFull(TrackerError):
    """The disk (or a file-size limit) refused a write: stop, keep what is recorded, resume later."""


# A write refused for want of room: no space, past a file-size limit, over a quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class CannotListen(TrackerError):
    """The web page's address cannot be listened on (taken, or not this machine's)."""


class ApiError(TrackerError):
    """A remote API call failed after its retries."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 host: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.host = host  # "api.themoviedb.org" (with ":port" when the URL names one)
        self.reason = reason or message  # what went wrong, without the URL

    @property
    def host_down(self) -> bool:
        """The host did not answer usefully: connection errors, timeouts or 5xx after retries."""
        return self.retryable and bool(self.host) and (self.status is None or self.status >= 500)


class NotFound(ApiError):
    """The remote API answered 404: the item does not exist there."""


class AuthError(ApiError):
    """The remote API refused the credentials (401): the whole command fails."""


class UnsafePath(TrackerError):
    """A file name from an API is not a plain file name and is refused."""


class NotAnImage(ApiError):
    """A downloaded poster or logo whose bytes are not an image: that file fails, nothing is saved."""


# What the CLI and the engine catch as "an error we raised on purpose": ours, and the store's.
KNOWN_ERRORS = (TrackerError, StoreError)
