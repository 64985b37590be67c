"""Ctrl+F puts the cursor in the current page's filter, whichever kind of field that filter is."""

from __future__ import annotations

from pathlib import Path

from app.bootstrap import Supervisor
from app.settings import Settings
from ui.main_window import HISTORY, QUEUE, RUN_LOG


async def test_ctrl_f_focuses_each_pages_filter_and_selects_its_text(gui_app, tmp_path: Path) -> None:
    async with gui_app() as app:
        settings = Settings({}, path=tmp_path / "settings.json")
        supervisor = Supervisor.prepare(
            settings=settings, demo=True, db_url=f"sqlite:///{tmp_path / 'find.sqlite3'}", poll_seconds=3600.0
        )
        app.supervisors.append(supervisor)
        window = app.window(supervisor)
        window.activateWindow()
        window.history.contact.setText("Maya")

        for page, target in (
            (QUEUE, window.live_queue.filter),
            (HISTORY, window.history.contact),
            (RUN_LOG, window.run_log.workflow),  # a combo box: focused, with no text to select
        ):
            window.show_page(page)
            window.focus_filter()
            assert window.focusWidget() is target or target.hasFocus(), page

        window.show_page(HISTORY)
        window.focus_filter()
        assert window.history.contact.selectedText() == "Maya"
