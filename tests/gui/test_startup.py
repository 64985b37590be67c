"""Start-up as ui.__main__ does it: the window shows first, the database opens behind it, the pages fill in."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bootstrap import Supervisor
from app.settings import Settings
from tests.helpers import wait_until


async def test_the_window_shows_before_the_database_opens_and_fills_in_after(gui_app, tmp_path: Path) -> None:
    async with gui_app() as app:
        settings = Settings({"demo_closes_per_minute": 600.0}, path=tmp_path / "settings.json")
        db_url = f"sqlite:///{tmp_path / 'startup.sqlite3'}"
        supervisor = Supervisor.prepare(settings=settings, demo=True, db_url=db_url, poll_seconds=3600.0)
        app.supervisors.append(supervisor)

        window = app.window(supervisor)  # shown and started: its pages already ask for their data
        assert window.isVisible() and window.banner.isVisible()
        with pytest.raises(RuntimeError, match="not connected"):
            _ = supervisor.connection_service.database
        assert not (tmp_path / "startup.sqlite3").exists()
        assert window.workflows_page.model.rowCount() == 0

        await supervisor.connect()
        await supervisor.start()
        # The demo publishes its template on a first launch; the waiting pages now get their rows.
        await wait_until(lambda: window.workflows_page.model.rowCount() == 1, timeout=30)
        await wait_until(lambda: window.live_queue.model.rowCount() > 0, timeout=30)
        await wait_until(lambda: window.status.rate.text() == "Rate limit: none in the demo", timeout=30)
