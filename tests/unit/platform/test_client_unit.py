"""Narrow client behaviours driven by httpx.MockTransport: mapping, parsing of odd answers, link safety."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from app.domain.errors import AuthRejected, Conflict, PlatformUnavailable, Queued, RateLimited, ValidationFailed
from app.domain.secret import Secret
from app.platform.client import PlatformClient, parse_retry_after

TOKEN = "unit-token-1234567890"
Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, **options: object) -> PlatformClient:
    settings: dict[str, object] = {"rate_limit": 0, "backoff_base": 0.001, "backoff_max": 0.002, "max_retries": 2}
    settings.update(options)
    return PlatformClient(
        "https://api.example.test/v2", Secret(TOKEN), transport=httpx.MockTransport(handler), **settings
    )  # type: ignore[arg-type]


def recorder(*responses: httpx.Response) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return seen, handler


async def test_409_is_a_conflict_and_not_retried() -> None:
    seen, handler = recorder(httpx.Response(409, json={"code": 409, "message": "Contact already exists"}))
    async with make(handler) as client:
        with pytest.raises(Conflict) as caught:
            await client.unassign(1)
    assert len(seen) == 1
    assert caught.value.message == "The platform answered 409: Contact already exists."


async def test_requests_carry_the_token_json_and_the_documented_body() -> None:
    seen, handler = recorder(httpx.Response(200, json={"contactId": 1}))
    async with make(handler) as client:
        await client.unassign("phone:+60123456789")
        await client.remove_tags(1, ["a"])
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].url.raw_path == b"/v2/contact/phone:+60123456789/conversation/assignee"
    assert json.loads(seen[0].content) == {"assignee": None}
    assert (seen[1].method, json.loads(seen[1].content)) == ("DELETE", ["a"])


async def test_an_error_body_that_is_not_json_names_the_status() -> None:
    _, handler = recorder(httpx.Response(502, content=b"<html>Bad gateway</html>"))
    async with make(handler) as client:
        with pytest.raises(PlatformUnavailable) as caught:
            await client.get_contact(1)
    assert caught.value.status == 502
    assert "502" in caught.value.message and "not JSON" in caught.value.message


async def test_a_truncated_success_body_is_unavailable_not_a_crash() -> None:
    _, handler = recorder(httpx.Response(200, content=b'{"id": 1, "firstNa'))
    async with make(handler, max_retries=0) as client:
        with pytest.raises(PlatformUnavailable, match="200"):
            await client.get_contact(1)


async def test_json_of_the_wrong_shape_is_unavailable() -> None:
    _, handler = recorder(httpx.Response(200, json={"items": "nope"}))
    async with make(handler) as client:
        with pytest.raises(PlatformUnavailable):
            await client.list_users()
    _, handler = recorder(httpx.Response(200, json={"name": "no id"}))
    async with make(handler) as client:
        with pytest.raises(PlatformUnavailable, match=r"contact\.id"):
            await client.get_contact(1)


async def test_403_asks_for_another_token_and_other_4xx_are_validation() -> None:
    _, handler = recorder(httpx.Response(403, json={"code": 403, "message": "Forbidden"}))
    async with make(handler) as client:
        with pytest.raises(AuthRejected) as caught:
            await client.get_contact(1)
    assert caught.value.status == 403
    _, handler = recorder(httpx.Response(422, json={"code": 422, "message": {"field": "bad"}}))
    async with make(handler) as client:
        with pytest.raises(ValidationFailed, match="field"):
            await client.get_contact(1)


async def test_a_token_echoed_by_the_server_is_masked() -> None:
    _, handler = recorder(httpx.Response(401, json={"code": 401, "message": f"token {TOKEN} is revoked"}))
    async with make(handler) as client:
        with pytest.raises(AuthRejected) as caught:
            await client.get_contact(1)
    assert TOKEN not in str(caught.value)
    assert "…7890" in str(caught.value)


async def test_a_449_is_not_retried_and_waits_minutes_with_jitter() -> None:
    seen, handler = recorder(httpx.Response(449, json={"code": 449, "message": "in queue"}))
    waits = []
    async with make(handler) as client:
        for _ in range(5):
            with pytest.raises(Queued) as caught:
                await client.unassign(1)
            assert isinstance(caught.value, RateLimited)  # what the drain reschedules by `retry_after`
            waits.append(caught.value.retry_after)
    assert len(seen) == 5
    assert all(wait is not None and 120 <= wait <= 240 for wait in waits)
    assert len(set(waits)) == 5  # spread, so queued calls do not all come back together


async def test_a_449_with_a_longer_retry_after_waits_that_long() -> None:
    _, handler = recorder(
        httpx.Response(449, json={"code": 449, "message": "in queue"}, headers={"Retry-After": "600"})
    )
    async with make(handler) as client:
        with pytest.raises(Queued) as caught:
            await client.unassign(1)
    assert caught.value.retry_after == 600


async def test_next_links_to_another_host_keep_only_the_cursor() -> None:
    pages = {
        None: {
            "items": [{"id": 1}],
            "pagination": {"next": "https://elsewhere.example/v2/space/user?limit=100&cursorId=1"},
        },
        "1": {"items": [{"id": 2}], "pagination": {"next": "/v2/space/user?limit=100&cursorId=2"}},
        "2": {"items": [{"id": 3}], "pagination": {"next": "", "previous": "x"}},
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursorId")])

    async with make(handler) as client:
        users = await client.list_users()
    assert [user.id for user in users] == [1, 2, 3]
    assert {request.url.host for request in seen} == {"api.example.test"}


async def test_a_next_link_that_repeats_stops_the_listing() -> None:
    page = {
        "items": [{"id": 1}],
        "pagination": {"next": "https://api.example.test/v2/space/channel?limit=100&cursorId=1"},
    }
    seen, handler = recorder(httpx.Response(200, json=page))
    async with make(handler) as client:
        channels = await client.list_channels()
    assert [channel.id for channel in channels] == [1, 1]
    assert len(seen) == 2


async def test_client_side_checks_send_nothing() -> None:
    seen, handler = recorder(httpx.Response(200, json={}))
    async with make(handler) as client:
        with pytest.raises(ValidationFailed):
            await client.close_conversation(1, category="x" * 129)
        with pytest.raises(ValidationFailed):
            await client.add_comment(1, "")
        with pytest.raises(ValidationFailed):
            await client.add_tags(1, "vip")
        with pytest.raises(ValidationFailed):
            [c async for c in client.list_contacts(filter={"and": []})]
        with pytest.raises(ValidationFailed):
            [c async for c in client.list_contacts(limit=101)]
        with pytest.raises(ValidationFailed):
            await client.get_contact("nobody")
    assert seen == []


async def test_the_platform_budget_headers_are_recorded_per_endpoint() -> None:
    _, handler = recorder(
        httpx.Response(200, json={"contactId": 1}, headers={"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1"})
    )
    async with make(handler, rate_limit=50) as client:
        await client.unassign(1)
        budget = client.rate_limits["POST /contact/{identifier}/conversation/assignee"]
    assert (budget.limit, budget.remaining) == (2, 1)


def test_retry_after_forms() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = parse_retry_after(later)
    assert waited is not None and 25 <= waited <= 31


def test_constructor_checks() -> None:
    with pytest.raises(TypeError):
        PlatformClient("https://x.test/v2", TOKEN)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PlatformClient("https://x.test/v2", Secret(TOKEN), timeout=0)


async def test_a_long_retry_after_is_raised_to_the_caller_and_later_calls_do_not_sit_through_it() -> None:
    seen, handler = recorder(
        httpx.Response(429, json={"code": 429, "message": "Too Many Requests"}, headers={"Retry-After": "900"})
    )
    async with make(handler, max_retry_after=120) as client:
        with pytest.raises(RateLimited) as first:
            await client.unassign(1)
        assert first.value.retry_after == 900
        with pytest.raises(RateLimited) as second:
            await asyncio.wait_for(client.unassign(2), 1)  # raised at once, not after 900 s in the pacer
        assert second.value.retry_after is not None and 890 < second.value.retry_after <= 900
    assert len(seen) == 1
