"""Exponential backoff with jitter, the one rule every retry in Closeout waits by.

The waits are computed, not slept here: the drain stores a command's next try in the database, the client
and the fake's webhook sender sleep on their own loops. A retry library would own the loop around the call
too, which none of these want.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits doubling from `first` seconds up to `longest`, each scaled by a random factor in `jitter`.

    Jitter spreads retries that failed together, so they do not come back together; `(1.0, 1.0)` turns it off.
    """

    first: float
    longest: float = math.inf
    jitter: tuple[float, float] = (0.75, 1.25)

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.longest:
            raise ValueError("a backoff needs 0 <= first <= longest")
        if not 0 <= self.jitter[0] <= self.jitter[1]:
            raise ValueError("a backoff's jitter is (lowest, highest) factor, not negative")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before try `attempt + 1`, after `attempt` failed tries (1 for the first retry)."""
        base = min(self.longest, self.first * 2.0 ** max(0, attempt - 1))
        low, high = self.jitter
        if low == high:
            return base * low
        return base * (low + (high - low) * (rng or random).random())
