"""Python's cyclic garbage collection, run only in the GUI thread.

The collector runs in whichever thread happens to allocate when a threshold is crossed. Closeout has
busy worker threads (the database writer and readers, the demo's fake workspace), so a cycle holding a
Qt object would otherwise be freed there: Qt then warns "Timers cannot be stopped from another thread",
or crashes, because a QObject must be destroyed in the thread it lives in. `MainThreadCollector` turns
automatic collection off and collects from a timer on the GUI thread instead, each generation when its
threshold is passed, as the interpreter would.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500

# WORKAROUND: CPython collects cycles in whichever thread allocates, and neither PySide6 nor PyQt can move a
# QObject's destruction back to its own thread, so the cure is to collect on the GUI thread only, as first
# described on the PyQt list: https://riverbankcomputing.com/pipermail/pyqt/2011-August/030378.html


class MainThreadCollector(QObject):
    """While it runs, cycles are collected on the GUI thread only."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        """Switch automatic collection off and start collecting on the timer."""
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Stop the timer and give collection back to the interpreter (as it was before `start`)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()

    def check(self) -> int:
        """Collect the oldest generation whose threshold is passed; returns how many objects were freed."""
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0
