"""Owned tasks: kept until they end, cancelled together, and a failure handed to the owner, never lost."""

from __future__ import annotations

import asyncio
from typing import Any

from app.tasks import OwnedTasks


async def test_a_failure_reaches_the_owner_and_cancel_all_stops_the_rest() -> None:
    failures: list[tuple[str, BaseException]] = []

    def failed(task: asyncio.Task[Any], error: BaseException) -> None:
        failures.append((task.get_name(), error))

    owner = OwnedTasks("test", on_failure=failed)

    async def boom() -> None:
        raise ValueError("no")

    waiting = owner.spawn(asyncio.sleep(60), "sleeper")
    broken = owner.spawn(boom(), "boom")
    assert waiting is not None and broken is not None
    await asyncio.wait({broken})
    assert [(name, str(error)) for name, error in failures] == [("test:boom", "no")]
    assert owner.pending() == {waiting}
    assert list(owner) == [waiting]  # going through the owner lists the tasks still running

    await owner.aclose()
    assert waiting.cancelled() and len(owner) == 0
    late = asyncio.sleep(1)
    assert owner.spawn(late) is None  # closed: the coroutine is closed unstarted, not left to warn
    assert failures == [failures[0]]  # a cancellation is not a failure
