"""When the next request may go: each host kind's rate limiter, the retry policy and Retry-After."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from aiolimiter import AsyncLimiter

_MAX_LAG_S = 0.01  # the wake-up lateness the limiter makes up for (see pacer)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures and to wait out 429 answers."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    # A 429 is the server pacing us, not a failure: it gets its own, larger budget, and the
    # wait it asks for is capped so a bogus Retry-After cannot stall a command for hours.
    max_rate_limited: int = 10
    max_retry_after_s: float = 60.0
    # When a host's last this-many answers in a row (over all requests) were failures, a failed
    # attempt is not retried: the host looks down, and waiting out every item's retries there
    # (16 items x 5 attempts at YTS's 2/s is 40 s) only delays the command's early stop.
    host_down_after: int = 10

    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the given 1-based attempt."""
        ceiling_s = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling_s)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def pacer(rate_per_s: float) -> AsyncLimiter:
    """A limiter spacing requests 1/rate apart that makes up for late wake-ups."""
    # Capacity 1 alone loses every wake-up's lateness for good (epoll rounds timeouts up to
    # whole milliseconds; a busy loop, the GIL or a busy machine add more): at 200/s a 1.5 ms
    # lag costs a quarter of the rate. Up to _MAX_LAG_S of lateness is made up by letting the
    # next requests follow sooner, so no window of W seconds ever holds more than
    # rate * (W + _MAX_LAG_S) + 1 requests: at most one more than the rate at 40/s, about 1%
    # more at 200/s, which a server's token bucket at the same rate absorbs without a 429.
    capacity = 1.0 + _MAX_LAG_S * rate_per_s
    return AsyncLimiter(capacity, capacity / rate_per_s)
