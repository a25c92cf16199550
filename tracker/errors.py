"""The one exception hierarchy of tracker; every I/O boundary raises from the underlying error."""

from __future__ import annotations


class TrackerError(Exception):
    """Root of every error tracker raises on purpose; the CLI prints its message on one line."""

    exit_code = 1


class UsageError(TrackerError):
    """Bad usage or bad input: exit 2, nothing written."""

    exit_code = 2


class BadInputError(UsageError):
    """A file or value the user gave cannot be read as asked."""


class ConfigError(UsageError):
    """The configuration (flags, environment, tracker.toml) is invalid."""


class StoreError(TrackerError):
    """The event store cannot be opened, read or appended to."""


class NotATrackerDatabase(StoreError):
    """The file at the database path is not a tracker database."""

    exit_code = 2


class NewerSchemaError(StoreError):
    """The log holds events written by a newer tracker than this one."""

    exit_code = 2


class IntegrityError(StoreError):
    """The log's hash chain or sequence is broken."""


class EngineBusy(TrackerError):
    """Another engine holds the database."""


class ApiError(TrackerError):
    """A remote API call failed after its retries."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class NotFound(ApiError):
    """The remote API answered 404: the item does not exist there."""


class AuthError(ApiError):
    """The remote API refused the credentials (401): the whole command fails."""


class UnsafePath(TrackerError):
    """A file name from an API is not a plain file name and is refused."""


class CommandFailed(TrackerError):
    """A command could not complete."""
