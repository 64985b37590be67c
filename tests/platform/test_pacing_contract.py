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
