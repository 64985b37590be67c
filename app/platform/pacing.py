"""Client-side pacing: one token bucket per endpoint, so Closeout sends at the platform's limit and not past it.

respond.io limits requests per endpoint (method + path template) and says so in `X-RateLimit-Limit` and
`X-RateLimit-Remaining`. The period of that limit is not documented; it is read as "per second", which
matches the one published figure (5 requests per second per method). The buckets start at the configured
rate and only ever go lower when the platform's headers say so, so a misread header cannot speed Closeout up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class RateLimitBudget:
    """What the platform last said about one endpoint's budget, for the status bar.

    `at` is wall-clock Unix time, so it can be shown as "n seconds ago".
    """

    endpoint: str
    limit: int
    remaining: int
    at: float


class TokenBucket:
    """Spaces requests at least `1/rate` apart, with no burst beyond one request.

    Each caller reserves the next free slot on a fixed grid, so waking late from a sleep never makes the
    bucket fall behind and then catch up with a burst: over any window, at most `rate * window + 1` requests
    go out. `hold` (a `Retry-After`, or an exhausted budget) moves every pending slot past the hold.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        """A rate of 0 (or less) means no pacing, only holds."""
        self._clock = clock
        self._interval = 0.0
        self._next = 0.0
        self._hold_until = 0.0
        self._holds = 0
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        """Requests per second; 0 when unpaced."""
        return 1.0 / self._interval if self._interval else 0.0

    @property
    def interval(self) -> float:
        """Seconds between two requests."""
        return self._interval

    def set_rate(self, rate: float) -> None:
        """Change the spacing from the next reservation on."""
        self._interval = 1.0 / rate if rate > 0 else 0.0

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` from now; callers already waiting take new slots after the hold."""
        until = self._clock() + max(0.0, seconds)
        if until > self._hold_until:
            self._hold_until = until
            self._next = max(self._next, until)
            self._holds += 1

    def defer(self, seconds: float) -> None:
        """Push the next free slot to at least `seconds` from now, leaving slots already taken alone."""
        self._next = max(self._next, self._clock() + max(0.0, seconds))

    def reserve_delay(self) -> float:
        """How long a caller would wait for a slot now, without taking one."""
        return max(0.0, self._next - self._clock(), self._hold_until - self._clock())

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait for it."""
        now = self._clock()
        slot = max(now, self._next, self._hold_until)
        self._next = slot + self._interval
        return slot - now

    async def acquire(self) -> None:
        """Wait for a slot, taking a new one if a hold arrived while waiting."""
        while True:
            holds = self._holds
            delay = self.reserve()
            if delay <= 0:
                return
            await asyncio.sleep(delay)
            if self._holds == holds:
                return


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


class Pacer:
    """The buckets of every endpoint, and the latest budget the platform reported for each."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`rate` is the configured most requests per second per endpoint; 0 sends unpaced (tests, benchmarks)."""
        self._rate = rate
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._budgets: dict[str, RateLimitBudget] = {}
        self.latest: RateLimitBudget | None = None

    @property
    def configured_rate(self) -> float:
        """The rate every bucket starts at."""
        return self._rate

    def bucket(self, endpoint: str) -> TokenBucket:
        """The endpoint's bucket, created at the configured rate."""
        bucket = self._buckets.get(endpoint)
        if bucket is None:
            bucket = self._buckets[endpoint] = TokenBucket(self._rate, self._clock)
        return bucket

    async def acquire(self, endpoint: str) -> None:
        """Wait until `endpoint` may be called."""
        await self.bucket(endpoint).acquire()

    def hold(self, endpoint: str, seconds: float) -> None:
        """Honour a `Retry-After` for this endpoint."""
        self.bucket(endpoint).hold(seconds)

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Record the budget headers and slow the bucket down if the platform allows less than configured.

        Only a response with both headers counts, as in respond.io's SDK. With nothing remaining, the bucket
        skips one slot, the cheapest guess at a reset time the platform does not send.
        """
        limit = _header_int(headers, "x-ratelimit-limit")
        remaining = _header_int(headers, "x-ratelimit-remaining")
        if limit is None or remaining is None:
            return
        budget = RateLimitBudget(endpoint, limit, remaining, time.time())
        self._budgets[endpoint] = budget
        self.latest = budget
        bucket = self.bucket(endpoint)
        if limit > 0:
            bucket.set_rate(min(self._rate, limit) if self._rate > 0 else 0.0)
        if remaining <= 0 and bucket.interval:
            bucket.defer(bucket.interval)

    @property
    def budgets(self) -> Mapping[str, RateLimitBudget]:
        """A read-only view of the latest budget per endpoint."""
        return MappingProxyType(self._budgets)
