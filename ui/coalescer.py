"""Collects ids from many signals and hands them over in one batch on a short timer."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer


class Coalescer(QObject):
    """Gathers ids and calls `flush(ids)` at most once per `interval_ms`, so a burst becomes one update."""

    def __init__(self, interval_ms: int, flush: Callable[[set[int]], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: set[int] = set()
        self._flush = flush
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._fire)
        self.held = False

    def add(self, ids: Iterable[int]) -> None:
        """Remember these ids for the next flush."""
        self._pending.update(ids)
        if not self.held and not self._timer.isActive():
            self._timer.start()

    def poke(self) -> None:
        """Ask for a flush even with no ids (a refresh of everything)."""
        if not self.held and not self._timer.isActive():
            self._timer.start()

    def hold(self) -> None:
        """Keep collecting but stop flushing (a flush is in flight, or the view is paused)."""
        self.held = True
        self._timer.stop()

    def release(self) -> None:
        """Flush again; anything collected meanwhile goes out on the next tick."""
        self.held = False
        if self._pending:
            self._timer.start()

    @property
    def pending(self) -> int:
        """How many ids wait for the next flush."""
        return len(self._pending)

    @property
    def idle(self) -> bool:
        """Nothing is collected, and no flush is due or in flight."""
        return not self._pending and not self.held and not self._timer.isActive()

    def pending_ids(self) -> frozenset[int]:
        """The ids waiting for the next flush."""
        return frozenset(self._pending)

    def take(self) -> set[int]:
        """The ids collected so far, emptied."""
        pending, self._pending = self._pending, set()
        return pending

    def _fire(self) -> None:
        self._flush(self.take())
