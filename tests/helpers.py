"""Helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.01) -> None:
    """Wait, on whatever loop runs the test, until `predicate()` is true; fail after `timeout` seconds.

    This is the async stand-in for `qtbot.waitUntil`, which must not be used inside a coroutine on qasync.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        await asyncio.sleep(step)
