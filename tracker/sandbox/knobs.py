"""The sandbox's runtime knobs, request counters, per-host token buckets and seeded fault dice."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_KINDS = ("5xx", "drop", "truncated", "timeout")
HOST_KINDS = ("tmdb", "yts", "image")
MAX_SYNTHETIC = 9_999_999  # synthetic IMDb ids are "tt9" + 7 digits of the index


@dataclass
class Knobs:
    """Everything that can be set at construction or changed later (POST /__sandbox/config)."""

    latency_s: float = 0.0
    rate_per_s: float | None = None  # per host kind (tmdb, yts); None = unlimited
    tmdb_rate_per_s: float | None = None  # overrides rate_per_s for TMDB only
    yts_rate_per_s: float | None = None  # overrides rate_per_s for YTS only
    fault_5xx_rate: float = 0.0
    fault_drop_rate: float = 0.0
    fault_truncated_rate: float = 0.0
    fault_timeout_rate: float = 0.0
    fault_hosts: tuple[str, ...] = HOST_KINDS  # which host kinds faults and latency apply to
    timeout_sleep_s: float = 30.0
    seed: int = 0
    providers_epoch: int = 0
    hostile_paths: bool = False
    synthetic_count: int = 0
    synthetic_tv_count: int | None = None  # None = synthetic_count // 10
    change_noise_per_day: int = 0  # ids the change lists name each day besides edited titles
    # Poisoned answers, for hostile-input tests: these fields are merged into the movie details
    # (and into each YTS torrent) of the ids in poison_ids (every id when empty), and
    # html_images serves every image as an HTML page with status 200.
    poison_fields: dict[str, Any] = field(default_factory=dict)
    poison_torrent_fields: dict[str, Any] = field(default_factory=dict)
    poison_ids: tuple[int, ...] = ()
    html_images: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes after checking names, types and ranges (ValueError names the bad one)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown sandbox knob(s): {', '.join(unknown)}")
        trial = Knobs(**{**asdict(self), **changes})
        trial._validate()
        for name in changes:
            setattr(self, name, getattr(trial, name))

    def _validate(self) -> None:
        for name in ("fault_5xx_rate", "fault_drop_rate", "fault_truncated_rate", "fault_timeout_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if sum(self.fault_rates()) > 1:
            raise ValueError("fault rates add up to more than 1")
        for name in ("latency_s", "timeout_sleep_s"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a number >= 0")
        for name in ("rate_per_s", "tmdb_rate_per_s", "yts_rate_per_s"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"{name} must be a positive number or null")
        if not isinstance(self.change_noise_per_day, int) or not 0 <= self.change_noise_per_day <= 100_000:
            raise ValueError("change_noise_per_day must be an integer from 0 to 100000")
        for name in ("seed", "providers_epoch", "synthetic_count"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be an integer")
        for name in ("synthetic_count", "synthetic_tv_count"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= MAX_SYNTHETIC):
                raise ValueError(f"{name} must be an integer from 0 to {MAX_SYNTHETIC}")
        self.fault_hosts = tuple(self.fault_hosts)
        if not set(self.fault_hosts) <= set(HOST_KINDS):
            raise ValueError(f"fault_hosts must be among {', '.join(HOST_KINDS)}")
        self.hostile_paths = bool(self.hostile_paths)
        self.html_images = bool(self.html_images)
        for name in ("poison_fields", "poison_torrent_fields"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a JSON object of fields")
        self.poison_ids = tuple(self.poison_ids)
        if not all(isinstance(i, int) for i in self.poison_ids):
            raise ValueError("poison_ids must be a list of TMDB ids")

    def poisons(self, tmdb_id: int) -> bool:
        """Whether answers about this TMDB id carry the poison fields."""
        return not self.poison_ids or tmdb_id in self.poison_ids

    def fault_rates(self) -> tuple[float, float, float, float]:
        """The rates of FAULT_KINDS, in that order."""
        return (self.fault_5xx_rate, self.fault_drop_rate, self.fault_truncated_rate, self.fault_timeout_rate)

    def rate_for(self, host: str) -> float | None:
        """The rate limit that applies to a host kind (images are never limited)."""
        if host == "tmdb":
            return self.tmdb_rate_per_s if self.tmdb_rate_per_s is not None else self.rate_per_s
        if host == "yts":
            return self.yts_rate_per_s if self.yts_rate_per_s is not None else self.rate_per_s
        return None

    def as_dict(self) -> dict[str, Any]:
        """The knobs as JSON-ready values."""
        out = asdict(self)
        out["fault_hosts"] = list(self.fault_hosts)
        out["poison_ids"] = list(self.poison_ids)
        return out


class TokenBucket:
    """Capacity = rate, refilled continuously; a client limiter at the same rate never trips it.

    A grant may borrow up to ``JITTER_S`` of refill: requests paced exactly at the rate reach the
    server with a few milliseconds of network jitter, which must not read as going too fast, while
    a client sending faster than the rate still runs out within a second.
    """

    JITTER_S = 0.05

    def __init__(self, rate_per_s: float) -> None:
        """Start full, as a fresh TMDB window does."""
        self.rate_per_s = rate_per_s
        self.capacity = rate_per_s
        self._tokens = rate_per_s
        self._at = time.monotonic()

    def take(self) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        if self._tokens >= 1 - self.JITTER_S * self.rate_per_s:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate_per_s


def retry_after_s(wait_s: float) -> int:
    """Whole seconds for the Retry-After header (TMDB sends integers, never 0)."""
    return max(1, math.ceil(wait_s))


class FaultDice:
    """A seeded RNG drawing at most one fault per request, in FAULT_KINDS order of the rates."""

    def __init__(self, seed: int) -> None:
        """Seed once; the sequence of outcomes is the same for the same sequence of requests."""
        self.seed = seed
        self._rng = random.Random(seed)

    def draw(self, rates: tuple[float, ...]) -> str | None:
        """One fault kind, or None for a normal answer."""
        if not any(rates):
            return None
        roll = self._rng.random()
        for kind, rate in zip(FAULT_KINDS, rates, strict=True):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def pick(self, choices: tuple[int, ...]) -> int:
        """A seeded choice (which 5xx status to answer)."""
        return self._rng.choice(choices)


@dataclass
class Stats:
    """Request counters; ``snapshot()`` is what GET /__sandbox/stats returns."""

    requests: int = 0
    by_host: Counter = field(default_factory=Counter)
    by_route: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    rate_limited: int = 0

    def count_request(self, host: str, route: str) -> None:
        """One request arrived for a route of a host kind."""
        self.requests += 1
        self.by_host[host] += 1
        self.by_route[route] += 1

    def count_status(self, status: int) -> None:
        """One answer went out with this status."""
        self.by_status[str(status)] += 1
        if status == 429:
            self.rate_limited += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the counters."""
        return {"requests": self.requests, "by_host": dict(self.by_host), "by_route": dict(self.by_route),
                "by_status": dict(self.by_status), "faults": dict(self.faults), "rate_limited": self.rate_limited}

    def reset(self) -> None:
        """Forget every count."""
        self.requests = self.rate_limited = 0
        for counter in (self.by_host, self.by_route, self.by_status, self.faults):
            counter.clear()
