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


def headers(limit: int, remaining: int) -> dict[str, str]:
    return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining)}


def test_the_limit_header_is_recorded_but_not_read_as_per_second() -> None:
    clock = Clock()
    pacer = Pacer(20, clock)
    pacer.budget("GET /x").take()
    pacer.observe("GET /x", 200, headers(5, 4), None)
    assert pacer.bucket("GET /x").rate == 20  # the ceiling; 5 is a budget of unknown period, not 5 per second
    assert pacer.reserve_delay("GET /x") == 0.0
    assert pacer.budgets["GET /x"].remaining == 4
    assert pacer.latest is not None and pacer.latest.endpoint == "GET /x"


def test_nothing_remaining_waits_a_first_guess_then_what_retry_after_teaches() -> None:
    clock = Clock()
    pacer = Pacer(0, clock)
    endpoint = "POST /contact/list"
    budget = pacer.budget(endpoint)
    budget.take()
    pacer.observe(endpoint, 200, headers(6, 0), None)  # the last one of the window went out
    assert pacer.reserve_delay(endpoint) == pytest.approx(1.0)  # no refill rate known yet
    clock.now += 1.0
    budget.take()
    pacer.observe(endpoint, 429, headers(6, 0), 9.0)  # a token is back 10 s after the empty answer
    assert budget.refill == pytest.approx(0.1)
    assert pacer.reserve_delay(endpoint) == pytest.approx(9.0)  # held for Retry-After
    clock.now += 9.0
    budget.take()
    pacer.observe(endpoint, 200, headers(6, 0), None)
    assert pacer.reserve_delay(endpoint) == pytest.approx(10.0)  # then one per learned interval, no 429 needed


def test_requests_in_flight_count_against_what_remains() -> None:
    clock = Clock()
    pacer = Pacer(0, clock)
    budget = pacer.budget("GET /x")
    for _ in range(3):
        budget.take()
    pacer.observe("GET /x", 200, headers(10, 2), None)  # two others are still out: nothing is left for a new one
    assert budget.available == 0
    assert pacer.reserve_delay("GET /x") > 0


def test_answers_without_a_budget_do_not_use_it_up() -> None:
    clock = Clock()
    pacer = Pacer(0, clock)
    budget = pacer.budget("GET /x")
    budget.take()
    pacer.observe("GET /x", 200, headers(10, 0), None)  # used up once
    clock.now += 10
    budget.take()
    pacer.observe("GET /x", 200, headers(10, 5), None)  # and refilled since
    for _ in range(15):  # a proxy's 502s, say, or requests that got no answer at all
        budget.take()
        pacer.observe("GET /x", 502, {}, None)
        budget.take()
        pacer.release("GET /x")
    assert budget.available == 5
    assert pacer.reserve_delay("GET /x") == 0.0


def test_half_or_broken_headers_are_ignored() -> None:
    clock = Clock()
    pacer = Pacer(10, clock)
    pacer.observe("GET /x", 200, {"x-ratelimit-limit": "5"}, None)
    pacer.observe("GET /x", 200, {"x-ratelimit-limit": "five", "x-ratelimit-remaining": "1"}, None)
    assert pacer.budgets == {}
    assert pacer.budget("GET /x").learning


async def test_only_one_request_is_out_before_the_first_budget_arrives() -> None:
    import asyncio

    pacer = Pacer(1000)
    await pacer.acquire("GET /x")
    second = asyncio.create_task(pacer.acquire("GET /x"))
    await asyncio.sleep(0.01)
    assert not second.done()
    pacer.observe("GET /x", 200, headers(10, 9), None)
    await asyncio.wait_for(second, 1)


def test_reserve_delay_peeks_without_taking_a_slot() -> None:
    clock = Clock()
    bucket = TokenBucket(2, clock)
    assert bucket.reserve_delay() == 0.0
    bucket.reserve()
    assert bucket.reserve_delay() == pytest.approx(0.5)
    assert bucket.reserve_delay() == pytest.approx(0.5)
    bucket.hold(3)
    assert bucket.reserve_delay() == pytest.approx(3)
