"""Background tasks with an owner, on whichever asyncio loop runs (qasync in the GUI, plain asyncio elsewhere).

Every task started here is kept until it ends (the loop itself holds tasks only weakly), can be cancelled
with its siblings, and hands a failure to the owner's `on_failure`, so none is lost or left running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

log = logging.getLogger("closeout.tasks")

FailureHandler = Callable[[asyncio.Task[Any], BaseException], None]


def log_failure(task: asyncio.Task[Any], error: BaseException) -> None:
    """The default for a failed task: an ERROR record naming it, with the traceback."""
    log.error("task %s failed", task.get_name(), exc_info=error)


class OwnedTasks:
    """The tasks one owner started; after `cancel_all` nothing new starts."""

    def __init__(self, owner_name: str, on_failure: FailureHandler = log_failure) -> None:
        self._owner = owner_name
        self._on_failure = on_failure
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any] | None:
        """Run `coro` as a task owned here, or close it unstarted (None) once the owner has closed."""
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
            self._on_failure(task, error)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        """The tasks still running, as they are now (one may end while the caller goes through them)."""
        return iter(set(self._tasks))

    def pending(self) -> set[asyncio.Task[Any]]:
        """The tasks still running."""
        return set(self._tasks)

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
