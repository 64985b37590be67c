"""The fake's rate limit: a token bucket per endpoint (method + path template), `limit` per `window` seconds.

The bucket holds one window of requests (`limit`) and refills evenly over the window, so a client that
spaces its requests evenly at the limit never sees a 429 however its requests jitter, while one that bursts
past a window's worth does. `X-RateLimit-Limit` says `limit` and nothing says the window, as on the
platform, which publishes neither (nor whether it uses a fixed window, a sliding one or a bucket).
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

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic, *, window: float = 1.0) -> None:
        """Start every endpoint with a full bucket of `limit` requests, refilled over `window` seconds."""
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.limit = 0.0
        self.window = 1.0
        self.set_limit(limit, window)

    def set_limit(self, limit: float, window: float | None = None) -> None:
        """Change the limit (and the window, if given) for every endpoint; the buckets start full again."""
        if limit < 0:
            raise ValueError("the rate limit cannot be negative")
        if window is not None:
            if not window > 0:
                raise ValueError("the rate window must be more than 0 seconds")
            self.window = window
        self.limit = limit
        self._buckets.clear()

    @property
    def per_second(self) -> float:
        """The sustained rate the limit allows."""
        return self.limit / self.window

    @property
    def header_limit(self) -> int:
        """The `X-RateLimit-Limit` value."""
        return max(1, round(self.limit)) if self.limit else UNLIMITED_HEADER

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.limit, now)
        else:
            bucket.tokens = min(self.limit, bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
        return bucket

    def take(self, key: str) -> Verdict:
        """Count one request against `key`'s bucket."""
        limit = self.header_limit
        if not self.limit:
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
        if not self.limit or key is None:
            return Verdict(True, limit, limit, 0)
        return Verdict(True, limit, int(self._refilled(key).tokens), 0)
