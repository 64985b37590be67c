"""GUI fixtures: a Supervisor on a temp database (demo or real), and the main window over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from PySide6.QtWidgets import QApplication

from app.bootstrap import Supervisor
from app.demo import SEEDED
from app.settings import Settings
from tests import inside
from ui.collector import MainThreadCollector
from ui.main_window import MainWindow


class App:
    """What a GUI test drives: Supervisors and their windows, all shut down when the test's `async with` ends.

    Teardown happens inside the test's coroutine on purpose: pytest-qt processes Qt events between a test and
    its fixtures' finalizers, with the asyncio loop stopped, and live sync tasks must not wake up then.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.supervisors: list[Supervisor] = []
        self.windows: list[MainWindow] = []

    async def open(self, *, demo: bool = True, seeded: bool = True, rate: float = 0.0, **options: Any) -> Supervisor:
        """A Supervisor on a fresh database; `seeded=False` leaves the demo's unassign workflow unpublished."""
        settings = Settings({"demo_closes_per_minute": rate}, path=self.tmp_path / "settings.json")
        options.setdefault("db_url", f"sqlite:///{self.tmp_path / f'gui{len(self.supervisors)}.sqlite3'}")
        options.setdefault("poll_seconds", 3600.0)
        supervisor = await Supervisor.open(settings=settings, demo=demo, **options)
        if demo and not seeded:  # as if the demo had already seeded: nothing is published yet
            await inside.store(supervisor).db.write(inside.store(supervisor).meta.set, SEEDED, "1")
        self.supervisors.append(supervisor)
        return supervisor

    def window(self, supervisor: Supervisor) -> MainWindow:
        """The main window over `supervisor`, shown and started."""
        window = MainWindow(supervisor)
        window.resize(1280, 800)
        window.show()
        window.start()
        self.windows.append(window)
        return window

    async def __aenter__(self) -> App:
        qapp = QApplication.instance()
        assert isinstance(qapp, QApplication)
        qapp.setQuitOnLastWindowClosed(False)  # as in ui.__main__: closing the window must not stop the loop
        return self

    async def __aexit__(self, *exc: object) -> None:
        for window in self.windows:
            window.close()
            await window.shutdown()
        for supervisor in reversed(self.supervisors):
            await supervisor.close()
        for window in self.windows:
            window.deleteLater()


@pytest.fixture(autouse=True, scope="session")
def _collect_on_the_gui_thread(qapp: QApplication) -> Iterator[None]:
    """As in ui.__main__: cyclic garbage is collected on the GUI thread, never in a worker thread."""
    collector = MainThreadCollector(qapp)
    collector.start()
    yield
    collector.stop()


@pytest.fixture
def gui_app(tmp_path: Path) -> Callable[[], App]:
    """`async with gui_app() as app:` gives a test Supervisors and windows that are shut down at its end."""
    return lambda: App(tmp_path)
