"""Background tasks with an owner: each widget keeps the tasks it starts and cancels them when it closes."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from app import tasks


def report(task: asyncio.Task[Any], error: BaseException) -> None:
    """A widget's task failed: log it, and hand it to sys.excepthook (a test fails, the app shows it)."""
    tasks.log_failure(task, error)
    sys.excepthook(type(error), error, error.__traceback__)


class OwnedTasks(tasks.OwnedTasks):
    """The tasks one widget started. A failure reaches sys.excepthook."""

    def __init__(self, owner_name: str) -> None:
        super().__init__(owner_name, on_failure=report)
