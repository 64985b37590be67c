"""How the client reacts to each fault the fake injects, over real loopback HTTP, and what it never logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from app.domain.errors import Offline, PlatformError, PlatformUnavailable, Queued, RateLimited
from tests.platform.conftest import TOKEN, Served

ServeFactory = Callable[..., Served]


def _statuses(served: Served) -> list[int]:
    return [entry["status"] for entry in served.log()]


async def test_429_waits_for_retry_after_then_succeeds(served: Served) -> None:
    served.faults(script=["429"], retry_after=1)
    async with served.client() as client:
        started = time.monotonic()
        await client.unassign(1)
        waited = time.monotonic() - started
    log = served.log()
    assert [entry["status"] for entry in log] == [429, 200]
    assert waited >= 0.95
    assert log[1]["time"] - log[0]["time"] >= 0.95


async def test_429_with_a_retry_after_too_long_is_raised_at_once(served: Served) -> None:
    served.faults(script=["429"], retry_after=30)
    async with served.client(max_retry_after=5) as client:
        with pytest.raises(RateLimited) as caught:
            await client.unassign(1)
    assert caught.value.retry_after == 30
    assert _statuses(served) == [429]


async def test_449_is_raised_at_once_with_minutes_to_wait(served: Served) -> None:
    served.faults(script=["449"])
    async with served.client() as client:
        with pytest.raises(Queued) as caught:
            await client.unassign(1)
        await client.unassign(2)  # the next call goes out at once: only the queued one waits
    assert _statuses(served) == [449, 200]
    assert caught.value.status == 449
    assert caught.value.retry_after is not None and 120 <= caught.value.retry_after <= 240
    assert "in queue" in caught.value.message


@pytest.mark.parametrize("kind", ["500", "502", "503"])
async def test_server_errors_are_retried_then_succeed(served: Served, kind: str) -> None:
    served.faults(script=[kind, kind, kind])
    async with served.client() as client:
        await client.unassign(1)
    assert _statuses(served) == [int(kind)] * 3 + [200]


async def test_server_errors_past_the_retries_are_raised(served: Served) -> None:
    served.faults(script=["503"] * 5)
    async with served.client(max_retries=2) as client:
        with pytest.raises(PlatformUnavailable) as caught:
            await client.unassign(1)
    assert caught.value.status == 503
    assert "503" in str(caught.value)
    assert _statuses(served) == [503, 503, 503]


async def test_a_stall_times_out_and_is_retried(served: Served) -> None:
    served.faults(script=["timeout"], stall_seconds=10)
    async with served.client(timeout=0.4) as client:
        started = time.monotonic()
        await client.unassign(1)
        elapsed = time.monotonic() - started
    assert 0.35 <= elapsed < 5
    assert [entry["fault"] for entry in served.log()] == ["timeout", None]


async def test_stalls_past_the_retries_are_offline(served: Served) -> None:
    served.faults(script=["timeout", "timeout"], stall_seconds=10)
    async with served.client(timeout=0.3, max_retries=1) as client:
        with pytest.raises(Offline) as caught:
            await client.unassign(1)
    assert caught.value.status == 0
    assert "0.3 s" in caught.value.message


async def test_a_dropped_connection_is_retried(served: Served) -> None:
    served.faults(script=["reset", "reset"])
    async with served.client() as client:
        await client.unassign(1)
    assert [entry["fault"] for entry in served.log()] == ["reset", "reset", None]


async def test_garbage_is_unavailable_with_the_status_after_retries(served: Served) -> None:
    served.faults(script=["garbage"] * 4)
    async with served.client(max_retries=3) as client:
        with pytest.raises(PlatformUnavailable) as caught:
            await client.get_contact(1)
        served.faults(script=["garbage"])
        assert (await client.get_contact(2)).id == 2
    assert caught.value.status == 200
    assert "200" in caught.value.message
    assert [entry["fault"] for entry in served.log()] == ["garbage"] * 5 + [None]


async def test_a_comment_is_not_repeated_after_a_server_error(served: Served) -> None:
    served.faults(script=["500"])
    async with served.client() as client:
        with pytest.raises(PlatformUnavailable):
            await client.add_comment(1, "only once")
        served.faults(script=["429"], retry_after=0)
        await client.add_comment(1, "after a 429")
    assert _statuses(served) == [500, 429, 200]


async def test_faults_by_probability_change_while_running(served: Served) -> None:
    async with served.client(max_retries=10) as client:
        served.faults(spec="500=1.0")
        with pytest.raises(PlatformUnavailable):
            await client.unassign(1)
        served.faults(spec="500=0.3,502=0.2")
        for contact_id in range(1, 11):
            await client.unassign(contact_id)
        served.faults(clear=True)
        before = len(served.log())
        await client.unassign(2)
    log = served.log()
    assert len(log) == before + 1 and log[-1]["status"] == 200
    assert {entry["status"] for entry in log} <= {200, 500, 502}


async def test_the_token_never_shows(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    served.faults(script=["500", "garbage", "reset", "429"], retry_after=0)
    errors: list[PlatformError] = []
    async with served.client(max_retries=5) as client:
        await client.unassign(1)
        await client.get_contact(1)
        served.faults(script=["503"] * 6)
        try:
            await client.get_contact(1)
        except PlatformError as exc:
            errors.append(exc)
        texts = [repr(client), str(client)]
    async with served.client(token="not-" + TOKEN, max_retries=0) as bad:
        for call in (bad.check_connection(), bad.get_contact(999)):
            try:
                await call
            except PlatformError as exc:
                errors.append(exc)
    assert len(errors) == 3
    texts += [repr(exc) for exc in errors] + [str(exc) for exc in errors] + [exc.message for exc in errors]
    texts += [record.getMessage() for record in caplog.records] + [caplog.text]
    assert any("retry" in record.getMessage() for record in caplog.records)
    assert all(TOKEN not in text for text in texts)
