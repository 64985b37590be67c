"""A plain-Python event bus: the core publishes change-sets, and ui/bridge.py turns them into Qt signals.

Handlers are held weakly when they are bound methods, so a closed window never keeps receiving events.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("closeout.events")


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What one committed change touched, by id, so views refresh only those rows.

    `connectivity` and `outbox_depth` are set when they changed; everything else lists ids. `initiator` is
    whoever asked for the operation that made the change (a widget, say), None for background work; it is not
    itself a change, so it never makes a change-set non-empty or unequal.
    """

    closes: tuple[int, ...] = ()
    runs: tuple[int, ...] = ()
    changes: tuple[int, ...] = ()
    commands: tuple[int, ...] = ()
    contacts: tuple[int, ...] = ()
    workflows: tuple[int, ...] = ()
    agents_changed: bool = False
    connectivity: str | None = None
    outbox_depth: int | None = None
    initiator: object | None = field(default=None, compare=False, repr=False)

    @property
    def is_empty(self) -> bool:
        """True when nothing changed."""
        return self == ChangeSet()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OpChanges(Generic[T]):
    """What an operation did, in the shape of Anki's OpChanges: its result and the change-set it published.

    The change-set names who asked (`initiator`). The widget that asked updates itself from `changes` and
    skips the same change-set when the bridge hands it over, so it refreshes once, not twice.
    """

    result: T
    changes: ChangeSet

    @property
    def initiator(self) -> object | None:
        """Who asked for the operation."""
        return self.changes.initiator


Handler = Callable[[ChangeSet], None]


class EventBus:
    """Delivers each change-set to every subscriber, in the publisher's thread, in subscription order.

    A handler that raises is logged and does not stop the others: one broken view must not stall sync.
    """

    def __init__(self) -> None:
        """Start with no subscribers."""
        self._handlers: list[Callable[[], Handler | None]] = []

    def subscribe(self, handler: Handler) -> None:
        """Add a handler; bound methods are held weakly, plain functions strongly."""
        if hasattr(handler, "__self__") and hasattr(handler, "__func__"):
            self._handlers.append(weakref.WeakMethod(handler))
        else:
            self._handlers.append(lambda: handler)

    def unsubscribe(self, handler: Handler) -> None:
        """Remove a handler if it is subscribed."""
        self._handlers = [ref for ref in self._handlers if ref() not in (None, handler)]

    def publish(self, change: ChangeSet) -> None:
        """Send `change` to every live handler."""
        if change.is_empty:
            return
        live: list[Callable[[], Handler | None]] = []
        for ref in self._handlers:
            handler = ref()
            if handler is None:
                continue
            live.append(ref)
            try:
                handler(change)
            except Exception:
                log.exception("event handler %r failed", handler)
        self._handlers = live
