"""The lead's path on the built-in demo: Use Template, publish, watch the queue, undo, review history, export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from app.domain.workflows import WorkflowState
from tests import inside
from tests.helpers import wait_until
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.dialogs.export_path_dialog import ExportPathDialog
from ui.main_window import HISTORY, QUEUE
from ui.models import queue_model


def statuses(window) -> dict[int, str]:
    model = window.live_queue.model
    return {model.row_at(r).close.id: model.row_at(r).status for r in range(model.rowCount())}


@pytest.mark.slow
async def test_use_template_publish_queue_undo_history_export(
    qtbot: QtBot, gui_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gui_app() as app:
        await _scenario(qtbot, app, tmp_path, monkeypatch)


async def _scenario(qtbot: QtBot, app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    supervisor = await app.open(demo=True, seeded=False, rate=1200.0)
    window = app.window(supervisor)
    await supervisor.start(drain=False)  # the drain starts later, so rows are seen pending first
    assert window.banner.isVisible()
    assert not [w for w in await supervisor.workflow_service.workflows() if w.state is WorkflowState.PUBLISHED]

    # Use Template on the unassign card opens the editor on a draft; nothing needs input, so Publish works.
    page = window.workflows_page
    qtbot.mouseClick(page.cards["unassign-after-close"].use, Qt.MouseButton.LeftButton)
    await wait_until(lambda: page.currentIndex() == 1 and page.editor.workflow is not None)
    assert page.editor.missing_now == ()
    qtbot.mouseClick(page.editor.publish, Qt.MouseButton.LeftButton)
    await wait_until(lambda: page.editor.workflow.state is WorkflowState.PUBLISHED)
    published = page.editor.workflow
    await wait_until(lambda: page.model.rowCount() == 1, timeout=30)

    # The simulator closes conversations: they stream into the queue as pending while nothing is sent.
    window.show_page(QUEUE)
    await wait_until(lambda: sum(1 for s in statuses(window).values() if s == "pending") >= 5, timeout=45)
    pending = {close_id for close_id, status in statuses(window).items() if status == "pending"}

    inside.sync(supervisor).spawn("drain", inside.sync(supervisor).drain.run())
    await wait_until(lambda: any(statuses(window).get(i) == "unassigned" for i in pending), timeout=45)
    unassigned = next(i for i in pending if statuses(window).get(i) == "unassigned")

    # Undo that one from its row (and confirm): the contact goes back to its agent.
    async def confirm(cls, parent, title, text, action):
        return True

    monkeypatch.setattr(ConfirmDialog, "ask", classmethod(confirm))
    model = window.live_queue.model
    row = next(r for r in range(model.rowCount()) if model.row_at(r).close.id == unassigned)
    contact_id = model.row_at(row).close.contact.id
    run_id = model.row_at(row).run.id
    proxy_index = window.live_queue.proxy.mapFromSource(model.index(row, queue_model.ACTION))
    window.live_queue.table.clicked.emit(proxy_index)
    await wait_until(lambda: any(n.text.startswith("Undo queued") for n in window.notifications.notices()), timeout=30)
    await wait_until(lambda: statuses(window).get(unassigned) != "unassigned", timeout=30)

    # History, filtered to that contact, shows the unassignment and the undo.
    window.show_page(HISTORY)
    history = window.history
    await wait_until(lambda: history.agent.count() > 1, timeout=30)
    history.contact.setText(str(contact_id))
    history.apply_filters()
    await wait_until(lambda: history.model.rowCount() >= 2 and not history.model.loading, timeout=30)
    changes = [entry.change for entry in history.model.rows()]
    assert {c.source.value for c in changes} >= {"workflow", "undo"}
    assert any(c.to_agent_id is None and c.run_id == run_id for c in changes)
    assert any(c.to_agent_id is not None and c.source.value == "undo" for c in changes)
    await wait_until(lambda: history.count_value is not None)

    # Export CSV through the button (the save dialog is stubbed): the file holds both changes.
    target = tmp_path / "history.csv"

    async def choose(parent, suggested):
        return target

    monkeypatch.setattr(ExportPathDialog, "ask", classmethod(lambda cls, parent, suggested: choose(parent, suggested)))
    qtbot.mouseClick(history.export, Qt.MouseButton.LeftButton)
    await wait_until(lambda: target.exists() and not history.exporting, timeout=30)
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["source"] for r in rows} >= {"workflow", "undo"}
    assert all(r["contact_id"] == str(contact_id) for r in rows)
    assert any(r["run_id"] == str(run_id) for r in rows)
    assert published.id is not None
