"""Background tasks with an owner: each widget keeps the tasks it starts and cancels them when it closes."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("closeout.ui")


class OwnedTasks:
    """The tasks one widget started. A failure reaches sys.excepthook (a test fails, the app shows it)."""

    def __init__(self, owner_name: str) -> None:
        self._owner = owner_name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any] | None:
        """Run `coro` as a task owned here; after `cancel_all` nothing new starts."""
        if self.closed:
            coro.close()
            return None
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(f"{self._owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("task %s failed", task.get_name(), exc_info=error)
            sys.excepthook(type(error), error, error.__traceback__)

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel_all(self) -> None:
        """Cancel every task and refuse new ones."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()

    async def aclose(self) -> None:
        """Cancel every task and wait until they have all finished."""
        tasks = list(self._tasks)
        self.cancel_all()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
