"""Pacing against the fake's per-endpoint limit: at the limit without 429s, and 429s honoured when past it."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable

from tests.platform.conftest import Served

ServeFactory = Callable[..., Served]


async def test_the_client_sends_at_the_limit_and_not_past_it(serve: ServeFactory) -> None:
    served = serve(rate_limit=10)
    async with served.client(rate_limit=10) as client:
        await client.check_connection()  # another endpoint: opens the connection without using this budget
        await asyncio.gather(*(client.unassign(contact_id) for contact_id in range(1, 21)))
    log = served.log()[1:]
    assert [entry["status"] for entry in log] == [200] * 20
    # The slope of arrival time against index: one request delayed by a busy machine does not skew it.
    slope = statistics.linear_regression(range(len(log)), [entry["time"] for entry in log]).slope
    assert 7.0 <= 1 / slope <= 10.5


async def test_endpoints_have_separate_budgets(serve: ServeFactory) -> None:
    served = serve(rate_limit=2)
    async with served.client(rate_limit=2) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(client.unassign(1), client.unassign(2), client.get_contact(1), client.get_contact(2))
        elapsed = loop.time() - started
    assert [entry["status"] for entry in served.log()] == [200] * 4
    assert 0.45 <= elapsed < 1.2  # two per endpoint: one interval (0.5 s), not three (1.5 s)


async def test_an_unpaced_client_past_the_limit_gets_429s_and_honours_them(serve: ServeFactory) -> None:
    served = serve(rate_limit=5)
    async with served.client(rate_limit=0) as client:
        await asyncio.gather(*(client.unassign(contact_id) for contact_id in range(1, 11)))
        assert client.rate_limit_budget is not None
    log = served.log()
    statuses = [entry["status"] for entry in log]
    assert statuses.count(200) == 10
    assert statuses.count(429) >= 1
    for index, entry in enumerate(log):
        if entry["status"] == 429:  # its retry (same path) waited for Retry-After: 1
            retry = next(later for later in log[index + 1 :] if later["path"] == entry["path"])
            assert retry["time"] - entry["time"] >= 0.95


async def test_a_sixty_second_window_is_learned_without_a_storm_of_429s(serve: ServeFactory) -> None:
    """60 requests per 60 s: the client spends the budget, then learns the refill instead of assuming a second."""
    served = serve(rate_limit=60, rate_window=60, contacts=80)
    async with served.client(rate_limit=100) as client:
        await asyncio.gather(*(client.unassign(contact_id) for contact_id in range(1, 67)))
        budget = client._pacer.budget("POST /contact/{identifier}/conversation/assignee")
    log = served.log()
    statuses = [entry["status"] for entry in log]
    assert statuses.count(200) == 66
    assert statuses.count(429) <= 2  # learning the refill costs at most a couple, never one per request
    after_learning = statuses[statuses.index(429) + 1 :] if 429 in statuses else statuses[60:]
    assert 429 not in after_learning[2:]
    # Past the first window's budget, requests go out at about the refill rate (1 a second), not faster.
    beyond = [entry["time"] for entry in log if entry["status"] == 200][60:]
    assert beyond[-1] - beyond[0] >= 0.9 * (len(beyond) - 1)
    assert budget.refill is None or budget.refill <= 1.05
