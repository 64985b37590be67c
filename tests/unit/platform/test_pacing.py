from __future__ import annotations

import pytest

from app.platform.pacing import Pacer, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slots_are_spaced_on_a_grid_without_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(4, clock)
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    clock.now += 10  # idle for a long time: still no burst beyond one request
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.25]


def test_a_late_caller_does_not_earn_a_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock)
    bucket.reserve()
    clock.now += 0.15
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.1)


def test_hold_moves_every_slot_past_it() -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock)
    bucket.reserve()
    bucket.hold(2.0)
    assert bucket.reserve() == pytest.approx(2.0)
    assert bucket.reserve() == pytest.approx(2.1)


def test_unpaced_bucket_only_holds() -> None:
    clock = Clock()
    bucket = TokenBucket(0, clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    bucket.hold(1.5)
    assert bucket.reserve() == pytest.approx(1.5)


async def test_a_caller_already_waiting_honours_a_hold_that_arrives_meanwhile() -> None:
    import asyncio

    bucket = TokenBucket(20)
    await bucket.acquire()
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(bucket.acquire())  # reserves the slot 50 ms ahead, then sleeps
    await asyncio.sleep(0)
    bucket.hold(0.2)
    await waiting
    assert loop.time() - started >= 0.19


def test_pacer_slows_down_to_the_platform_limit_and_records_budgets() -> None:
    clock = Clock()
    pacer = Pacer(20, clock)
    pacer.observe("GET /x", {"x-ratelimit-limit": "5", "x-ratelimit-remaining": "4"})
    assert pacer.bucket("GET /x").rate == 5
    assert pacer.bucket("GET /y").rate == 20
    pacer.observe("GET /x", {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "99"})
    assert pacer.bucket("GET /x").rate == 20  # never faster than configured
    assert pacer.budgets["GET /x"].remaining == 99
    assert pacer.latest is not None and pacer.latest.endpoint == "GET /x"


def test_pacer_ignores_half_or_broken_headers_and_defers_when_nothing_remains() -> None:
    clock = Clock()
    pacer = Pacer(10, clock)
    pacer.observe("GET /x", {"x-ratelimit-limit": "5"})
    pacer.observe("GET /x", {"x-ratelimit-limit": "five", "x-ratelimit-remaining": "1"})
    assert pacer.budgets == {}
    pacer.observe("GET /x", {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0"})
    bucket = pacer.bucket("GET /x")
    assert bucket.reserve() == pytest.approx(0.1)


def test_reserve_delay_peeks_without_taking_a_slot() -> None:
    clock = Clock()
    bucket = TokenBucket(2, clock)
    assert bucket.reserve_delay() == 0.0
    bucket.reserve()
    assert bucket.reserve_delay() == pytest.approx(0.5)
    assert bucket.reserve_delay() == pytest.approx(0.5)
    bucket.hold(3)
    assert bucket.reserve_delay() == pytest.approx(3)
