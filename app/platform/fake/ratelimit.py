"""The fake's rate limit: a token bucket per endpoint (method + path template), refilled every second.

The bucket holds one second of requests (`limit`), so a client that spaces its requests evenly at the limit
never sees a 429 however its requests jitter, while one that bursts past a second's worth does. What the
live platform uses (fixed window, sliding window, bucket) is not documented.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

UNLIMITED_HEADER = 1_000_000
"""What `X-RateLimit-Limit` says when the fake runs unlimited: the header is always sent, and 0 would read
as "nothing allowed"."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One request's fate and the headers that tell the client about it."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class RateLimiter:
    """Per-endpoint buckets; a limit of 0 means unlimited."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Start every endpoint with a full bucket."""
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.per_second = 0.0
        self.set_limit(per_second)

    def set_limit(self, per_second: float) -> None:
        """Change the limit for every endpoint; the buckets start full again."""
        if per_second < 0:
            raise ValueError("the rate limit cannot be negative")
        self.per_second = per_second
        self._buckets.clear()

    @property
    def header_limit(self) -> int:
        """The `X-RateLimit-Limit` value."""
        return max(1, round(self.per_second)) if self.per_second else UNLIMITED_HEADER

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.per_second, now)
        else:
            bucket.tokens = min(self.per_second, bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
        return bucket

    def take(self, key: str) -> Verdict:
        """Count one request against `key`'s bucket."""
        limit = self.header_limit
        if not self.per_second:
            return Verdict(True, limit, limit, 0)
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Verdict(True, limit, int(bucket.tokens), 0)
        wait = (1 - bucket.tokens) / self.per_second
        return Verdict(False, limit, 0, max(1, math.ceil(wait)))

    def peek(self, key: str | None) -> Verdict:
        """The headers for a response that did not count (401, 404, injected faults)."""
        limit = self.header_limit
        if not self.per_second or key is None:
            return Verdict(True, limit, limit, 0)
        return Verdict(True, limit, int(self._refilled(key).tokens), 0)
