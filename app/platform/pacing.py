"""Client-side pacing: per endpoint, a spacing grid plus the budget the platform's headers report.

respond.io limits requests per endpoint (method + path template), organisation-wide, and says so in
`X-RateLimit-Limit` and `X-RateLimit-Remaining`; it publishes no numbers and no window, and sends no reset
time. So nothing here assumes a period. Per endpoint:
- requests are spaced at no more than the configured rate (the ceiling, never exceeded);
- before the first answer only one request is out (for a couple of seconds at most), so the first headers
  are read before a second is sent; an unpaced client (rate 0, for tests) skips this;
- after that, no request goes out while the reported `Remaining` (less what is still in flight) is used
  up, until the endpoint has had time to refill;
- the refill rate is learned: a 429's `Retry-After`, counted from the last answer that said nothing was
  left, gives the time one request takes to come back; until one is seen, the wait after running out starts
  at one second and doubles while the platform still refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

log = logging.getLogger("closeout.platform")

FIRST_GUESS = 1.0
"""Seconds to wait after running out, before the platform has said how fast it refills."""
LONGEST_GUESS = 60.0
FIRST_ANSWER_WAIT = 2.0
"""Seconds a second request waits for the first answer of an endpoint, to read its budget first."""


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
    def holds(self) -> int:
        """How many holds were placed; a change tells a sleeping caller its slot moved."""
        return self._holds

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


class EndpointBudget:
    """One endpoint's budget as the platform reports it, and when the next request may go out.

    `available` counts requests the platform allows now by its last report, less those sent since; None
    until an answer with both headers arrives. `refill` is the learned rate (requests per second) at which
    the budget comes back; None until the platform has shown it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Nothing known yet."""
        self._clock = clock
        self.limit: int | None = None
        self.available: float | None = None
        self.refill: float | None = None
        self.outstanding = 0
        self._empty_at: float | None = None
        self._guess = FIRST_GUESS
        self._answered = asyncio.Event()

    @property
    def learning(self) -> bool:
        """Whether no budget has been reported yet (then one request at a time)."""
        return self.limit is None

    def ready_at(self) -> float:
        """The clock time from which one more request fits the budget (now or earlier when it does)."""
        if self.available is None or self.available >= 1 or self._empty_at is None:
            return 0.0
        needed = 1 - self.available
        per_request = 1 / self.refill if self.refill else self._guess
        return self._empty_at + needed * per_request

    def take(self) -> None:
        """Count one request as sent."""
        self.outstanding += 1
        if self.available is not None:
            self.available -= 1

    async def wait_for_answer(self) -> None:
        """Until the next answer arrives (used while learning)."""
        self._answered.clear()
        await self._answered.wait()

    def answered(self, limit: int | None, remaining: int | None) -> None:
        """One request came back; `limit`/`remaining` as reported (None when the headers were missing)."""
        self.outstanding = max(0, self.outstanding - 1)
        self._answered.set()
        if limit is None or remaining is None:
            # No budget in the answer (or no answer): it says nothing, so the last report stands as it was.
            if self.available is not None:
                self.available += 1
            return
        now = self._clock()
        before = self.available
        self.limit = limit
        self.available = float(remaining - self.outstanding)
        if self.available < 1:  # used up, counting what is still in flight
            self._empty_at = now
        elif self._empty_at is not None and before is not None and before < 1 <= self.available:
            # Back from empty: it refilled at least `remaining` in the time since (a lower bound, so safe).
            elapsed = now - self._empty_at
            if elapsed > 0 and remaining >= 2:
                rate = (remaining - 1) / elapsed
                if self.refill is None or rate > self.refill:
                    self.refill = rate
            self._guess = FIRST_GUESS

    def refused(self, retry_after: float | None) -> float:
        """A 429: nothing is left. Learns the refill rate from `Retry-After`; returns how long to hold."""
        now = self._clock()
        self.outstanding = max(0, self.outstanding - 1)
        self._answered.set()
        if retry_after is None:
            hold = self._guess
            self._guess = min(LONGEST_GUESS, self._guess * 2)
        else:
            hold = retry_after
            if self._empty_at is not None and now + retry_after > self._empty_at:
                rate = 1 / (now + retry_after - self._empty_at)
                if self.refill is None or rate < self.refill:
                    self.refill = rate
                    log.info("the platform refills this endpoint at about %.3g requests per second", rate)
        self._empty_at = now + hold
        self.available = float(1 - self.outstanding)
        return hold


class Pacer:
    """The spacing and budget of every endpoint, and the latest budget the platform reported for each."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`rate` is the most requests per second per endpoint Closeout sends; 0 sends unpaced (tests)."""
        self._rate = rate
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._budgets: dict[str, EndpointBudget] = {}
        self._reported: dict[str, RateLimitBudget] = {}
        self.latest: RateLimitBudget | None = None

    def bucket(self, endpoint: str) -> TokenBucket:
        """The endpoint's spacing, at the configured rate."""
        bucket = self._buckets.get(endpoint)
        if bucket is None:
            bucket = self._buckets[endpoint] = TokenBucket(self._rate, self._clock)
        return bucket

    def budget(self, endpoint: str) -> EndpointBudget:
        """What is known of the endpoint's budget."""
        budget = self._budgets.get(endpoint)
        if budget is None:
            budget = self._budgets[endpoint] = EndpointBudget(self._clock)
        return budget

    def reserve_delay(self, endpoint: str) -> float:
        """How long a request to `endpoint` would wait now, without taking a slot."""
        budget_wait = max(0.0, self.budget(endpoint).ready_at() - self._clock())
        return max(self.bucket(endpoint).reserve_delay(), budget_wait)

    async def acquire(self, endpoint: str) -> None:
        """Wait until one more request to `endpoint` fits its spacing and its budget, and count it."""
        bucket = self.bucket(endpoint)
        budget = self.budget(endpoint)
        if self._rate > 0 and budget.learning and budget.outstanding >= 1:
            # A first answer that is slow to come must not stall the endpoint: wait for it only so long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(budget.wait_for_answer(), FIRST_ANSWER_WAIT)
        while True:
            wait = budget.ready_at() - self._clock()
            if wait > 0:
                bucket.defer(wait)
            holds = bucket.holds
            delay = bucket.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
                if bucket.holds != holds:
                    continue
            # Another request may have used the last of the budget while this one slept.
            if budget.ready_at() <= self._clock() + 1e-3:
                budget.take()
                return

    def release(self, endpoint: str) -> None:
        """A request that got no answer (no connection, a timeout): it no longer counts as out."""
        self.budget(endpoint).answered(None, None)

    def hold(self, endpoint: str, seconds: float) -> None:
        """Send nothing to `endpoint` for `seconds`."""
        self.bucket(endpoint).hold(seconds)

    def observe(self, endpoint: str, status: int, headers: Mapping[str, str], retry_after: float | None) -> None:
        """Record an answer: the budget headers (only both together count, as in respond.io's SDK) and a 429."""
        limit = _header_int(headers, "x-ratelimit-limit")
        remaining = _header_int(headers, "x-ratelimit-remaining")
        budget = self.budget(endpoint)
        if limit is not None and remaining is not None:
            reported = RateLimitBudget(endpoint, limit, remaining, time.time())
            self._reported[endpoint] = reported
            self.latest = reported
        else:
            limit = remaining = None
        if status == 429:
            if limit is not None:
                budget.limit = limit
            self.hold(endpoint, budget.refused(retry_after))
        else:
            budget.answered(limit, remaining)

    @property
    def budgets(self) -> Mapping[str, RateLimitBudget]:
        """A read-only view of the latest budget per endpoint."""
        return MappingProxyType(self._reported)
