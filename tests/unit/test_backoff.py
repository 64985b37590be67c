"""The one backoff rule: doubling from the first wait, capped, each wait spread within its jitter."""

from __future__ import annotations

import random

import pytest

from app.backoff import Backoff


def test_waits_double_from_the_first_up_to_the_longest_within_the_jitter() -> None:
    rule = Backoff(1.0, 10.0, jitter=(0.75, 1.25))
    rng = random.Random(7)
    for attempt, base in [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (40, 10.0)]:
        waits = [rule.delay(attempt, rng) for _ in range(200)]
        assert base * 0.75 <= min(waits) and max(waits) <= base * 1.25, attempt
        assert max(waits) - min(waits) > base * 0.25  # spread, not one value


def test_without_jitter_the_waits_are_the_same_every_time() -> None:
    rule = Backoff(0.5, jitter=(1.0, 1.0))
    assert [rule.delay(attempt) for attempt in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_a_seeded_generator_gives_the_same_waits() -> None:
    rule = Backoff(0.5, 10.0, jitter=(0.5, 1.0))
    assert [rule.delay(3, random.Random(1)) for _ in range(2)] == [rule.delay(3, random.Random(1))] * 2


@pytest.mark.parametrize(
    ("first", "longest", "jitter"), [(-1.0, 5.0, (1.0, 1.0)), (6.0, 5.0, (1.0, 1.0)), (1.0, 5.0, (1.2, 0.8))]
)
def test_a_rule_that_cannot_hold_is_refused(first: float, longest: float, jitter: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first, longest, jitter)
