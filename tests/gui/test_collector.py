"""Cyclic garbage is collected on the GUI thread only, so no Qt object is ever freed in a worker thread."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtWidgets import QApplication

from ui.collector import MainThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_worker_threads_never_collect_and_the_timer_does(qapp: QApplication) -> None:
    before = gc.isenabled()  # the GUI tests' own collector keeps it off
    gc.enable()
    collector = MainThreadCollector(interval_ms=10_000)  # the test calls check() itself
    collector.start()
    try:
        assert not gc.isenabled()
        garbage = _Cycle()
        alive = weakref.ref(garbage)
        del garbage

        def allocate() -> None:  # far past every threshold: automatic collection would have run here
            for _ in range(gc.get_threshold()[0] * 50):
                _Cycle()

        worker = threading.Thread(target=allocate)
        worker.start()
        worker.join()
        assert alive() is not None

        assert collector.check() > 0  # on this thread: the young generation, where the cycle still is
        assert alive() is None
    finally:
        collector.stop()
        assert gc.isenabled()  # given back as it was when the collector started
        if not before:
            gc.disable()
