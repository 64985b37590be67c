"""Every workaround for a third-party quirk lives here, each marked WORKAROUND with its upstream link."""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import Slot

from app.tasks import OwnedTasks

T = TypeVar("T")


# WORKAROUND: PySide6's generated stubs type every pointer a Qt method returns as never None, though Qt
# returns nullptr from several, and PySide6 None: QMenu.actionAt between items
# (https://doc.qt.io/qt-6/qmenu.html#actionAt), QWidget.windowHandle before the window exists
# (https://doc.qt.io/qt-6/qwidget.html#windowHandle), QAbstractItemView.selectionModel with no model
# (https://doc.qt.io/qt-6/qabstractitemview.html#selectionModel), QWidget.screen and
# QGuiApplication.primaryScreen with no screen (https://doc.qt.io/qt-6/qguiapplication.html#primaryScreen).
# `nullable` tells the type checker so, and changes nothing at run time.
def nullable(value: T) -> T | None:
    """`value`, typed as possibly None (see the WORKAROUND above)."""
    return value


# WORKAROUND: qasync's asyncSlot returns the task it creates and keeps no reference to it, and the asyncio
# loop only holds tasks weakly, so a slot's task can be garbage-collected mid-flight ("Task was destroyed but
# it is pending!"). https://github.com/CabbageDevelopment/qasync/issues/98 and the asyncio docs' note on
# `create_task` (https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task).
# This asyncSlot keeps each task in a set until it finishes, and reports a failure through sys.excepthook
# (as qasync does), so an error in a slot is never lost.
def _to_excepthook(task: asyncio.Task[Any], error: BaseException) -> None:
    sys.excepthook(type(error), error, error.__traceback__)


_SLOT_TASKS = OwnedTasks("slot", on_failure=_to_excepthook)


def asyncSlot(*slot_args: Any) -> Callable[[Callable[..., Coroutine[Any, Any, Any]]], Callable[..., Any]]:
    """Make a coroutine method a Qt slot whose call starts a task on the running (qasync) loop."""

    def decorate(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        signature = inspect.signature(fn)

        @Slot(*slot_args)
        @functools.wraps(fn)
        def wrapper(*args: Any) -> asyncio.Task[Any]:
            # Qt passes a signal's arguments even when the slot takes fewer (e.g. clicked(bool)).
            while args:
                try:
                    signature.bind(*args)
                    break
                except TypeError:
                    args = args[:-1]
            task = _SLOT_TASKS.spawn(fn(*args))
            assert task is not None  # the slots' owner is never closed
            return task

        return wrapper

    return decorate


def pending_slot_tasks() -> set[asyncio.Task[Any]]:
    """Slot tasks still running (the main window cancels them on shutdown)."""
    return _SLOT_TASKS.pending()
