"""Edits are never lost without asking, and notices never move a control under the pointer."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.domain.people import Agent, Team
from app.domain.workflows import WorkflowState
from tests import inside
from tests.helpers import wait_until
from ui.dialogs import unsaved_changes_dialog
from ui.dialogs.unsaved_changes_dialog import UnsavedChangesDialog
from ui.main_window import QUEUE, WORKFLOWS
from ui.views.workflows_view import EDITOR, GALLERY


class Answers:
    """Stands in for the lead at the unsaved-changes question."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.queue: list[str] = []
        self.asked: list[str] = []

        async def ask(cls, parent, name: str) -> str:
            self.asked.append(name)
            return self.queue.pop(0)

        monkeypatch.setattr(UnsavedChangesDialog, "ask", classmethod(ask))


async def open_draft(app, qtbot: QtBot):
    supervisor = await app.open(demo=True, seeded=False)
    window = app.window(supervisor)
    page = window.workflows_page
    qtbot.mouseClick(page.cards["unassign-after-close"].use, Qt.MouseButton.LeftButton)
    await wait_until(lambda: page.currentIndex() == EDITOR and page.editor.workflow is not None)
    return supervisor, window, page.editor


async def test_leaving_the_editor_asks_and_cancel_keeps_the_edits(gui_app, qtbot: QtBot, monkeypatch) -> None:
    answers = Answers(monkeypatch)
    async with gui_app() as app:
        supervisor, window, editor = await open_draft(app, qtbot)
        editor.name.setText("Unassign, my copy")
        assert editor.dirty
        answers.queue = [unsaved_changes_dialog.CANCEL]
        qtbot.mouseClick(editor.back, Qt.MouseButton.LeftButton)
        await wait_until(lambda: answers.asked)
        assert window.workflows_page.currentIndex() == EDITOR and editor.name.text() == "Unassign, my copy"

        # Going to another page asks too; Save draft stores the edits, then the page changes.
        answers.queue = [unsaved_changes_dialog.SAVE]
        window.show_page(QUEUE)
        await wait_until(lambda: window.current_page == QUEUE)
        assert len(answers.asked) == 2
        assert not editor.dirty
        stored = await supervisor.workflow_service.workflow(editor.workflow.id)
        assert stored.name == "Unassign, my copy" and stored.state is WorkflowState.DRAFT


async def test_discard_throws_the_edits_away_and_closing_the_window_asks(gui_app, qtbot: QtBot, monkeypatch) -> None:
    answers = Answers(monkeypatch)
    async with gui_app() as app:
        supervisor, window, editor = await open_draft(app, qtbot)
        saved_name = editor.workflow.name
        editor.name.setText("Not wanted")
        answers.queue = [unsaved_changes_dialog.CANCEL]
        window.close()
        await wait_until(lambda: answers.asked)
        assert window.isVisible()  # Cancel: the window stays, the edits too
        assert editor.name.text() == "Not wanted"

        answers.queue = [unsaved_changes_dialog.DISCARD]
        qtbot.mouseClick(editor.back, Qt.MouseButton.LeftButton)
        await wait_until(lambda: window.workflows_page.currentIndex() == GALLERY)
        assert (await supervisor.workflow_service.workflow(editor.workflow.id)).name == saved_name


async def test_a_toggle_put_back_is_no_unsaved_change(gui_app, qtbot: QtBot) -> None:
    async with gui_app() as app:
        _, _, editor = await open_draft(app, qtbot)
        assert not editor.dirty
        editor.once_per_contact.toggle()
        assert editor.dirty and "unsaved" in editor.state_chip.text()
        editor.once_per_contact.toggle()
        assert not editor.dirty and "unsaved" not in editor.state_chip.text()


def settle(window) -> None:
    """Run every pending layout pass now (processEvents inside a coroutine would re-enter the loop)."""
    for widget in [window, *window.findChildren(QWidget)]:
        layout = widget.layout()
        if layout is not None:
            layout.activate()


def geometry(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


async def test_notices_never_move_the_layout_and_stay_under_the_pointer(gui_app, qtbot: QtBot) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        window = app.window(supervisor)
        await supervisor.start()
        window.show_page(QUEUE)
        await wait_until(lambda: window.live_queue.isVisible() and window.live_queue._loaded)
        queue = window.live_queue
        watched = [queue.filter, queue.pause, queue.undo, queue.table, window.nav]
        settle(window)
        before = [geometry(w, window) for w in watched]
        window.notifier.info("Undo queued: reassigned Priya.")
        window.notifier.warning("Offline: respond.io cannot be reached.", key="connectivity")
        window.notifier.error("The token was refused; paste a new one in Settings.")
        settle(window)
        assert len(window.notifications.frames()) == 3 and window.notifications.isVisible()
        assert [geometry(w, window) for w in watched] == before
        window.notifier.withdraw("connectivity")
        settle(window)
        assert [geometry(w, window) for w in watched] == before
        # The editor: filling the field that needed input does not move the form below it either.
        window.show_page(WORKFLOWS)
        page = window.workflows_page
        draft = (await supervisor.workflow_service.use_template("round-robin-online")).result
        await page.open_editor(draft)
        editor = page.editor
        settle(window)
        assert editor.missing_now
        form = [editor.name, editor.trigger, editor.add_condition, editor.save, editor.publish]
        before = [geometry(w, window) for w in form]
        editor.name.setText("")
        settle(window)
        assert [geometry(w, window) for w in form] == before
        editor.show_workflow(draft)  # nothing unsaved: the window closes without asking at the test's end

        # An info notice stays while the pointer is over it, and may go once the pointer leaves.
        window.notifier.info("Saved.")
        frame = window.notifications.frames()[0]
        timer = window.notifications._timers[frame]
        assert timer.isActive()
        QApplication.sendEvent(frame, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))
        assert not timer.isActive()
        QApplication.sendEvent(frame, QEvent(QEvent.Type.Leave))
        assert timer.isActive()


async def test_an_unknown_team_is_marked_where_it_is_typed_and_not_published(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        window = app.window(supervisor)
        # The check is against the cached workspace: one team in it, and a draft naming another.
        team = Team(1, "Support")
        await inside.store(supervisor).db.write(
            inside.store(supervisor).cache.upsert_agents, [Agent(7, "Maya", "Lee", "maya@example.com", team=team)]
        )
        template = (await supervisor.workflow_service.use_template("round-robin-online")).result
        step = replace(template.steps[0], team_id=999)
        draft = (
            await supervisor.workflow_service.save_workflow(replace(template, steps=(step,)))
        ).result  # a draft may hold anything
        page = window.workflows_page
        await page.open_editor(draft)
        editor = page.editor
        problem = next(m for m in editor.missing_now if "team 999" in m)
        assert "there is no team 999 in this workspace" in problem
        assert problem in editor.missing.text()
        step = editor.step_editors[0]
        assert step.team.property("needsInput") is True and "team 999" in step.team.toolTip()
        assert await editor.publish_now() is None
        assert (await supervisor.workflow_service.workflow(draft.id)).state is WorkflowState.DRAFT
        assert any("team 999" in n.text for n in window.notifications.notices())
        editor.dirty = False


@pytest.mark.qt_log_ignore("This plugin does not support")  # the offscreen platform, for the popup menu
async def test_the_small_editor_slips_are_gone(gui_app, qtbot: QtBot) -> None:
    from PySide6.QtCore import QPointF as Point
    from PySide6.QtGui import QMouseEvent

    from app.domain.workflows import AssignAction

    async with gui_app() as app:
        supervisor, window, editor = await open_draft(app, qtbot)
        await supervisor.start(drain=False)
        agents: dict[int, object] = {}
        while not agents:
            agents = dict(await supervisor.team_service.agents())
            await asyncio.sleep(0.05)
        supervisor._agents = {}  # read the agents the first poll cached
        await editor.open_workflow(editor.workflow)
        # "Verify before unassign" shows only where a step unassigns.
        assert editor.verify.isVisibleTo(editor)
        editor.step_editors[0].action.setCurrentIndex(editor.step_editors[0].action.findData(AssignAction.TEAM_USER))
        assert not editor.verify.isVisibleTo(editor)
        # The "cannot be published yet" notice goes once nothing is missing any more.
        assert await editor.publish_now() is None
        assert any(n.key == "publish" for n in window.notifications.notices())
        team = editor.step_editors[0].team
        team.setCurrentIndex(1)
        assert not editor.missing_now
        assert not any(n.key == "publish" for n in window.notifications.notices())
        # The values picker: one arrow (the button draws it), and the menu stays open while values are ticked.
        editor._add_condition_clicked()
        field = editor.condition_rows[0].values
        assert field.pick.text() == "Choose"
        menu = field.menu
        menu.popup(field.pick.mapToGlobal(field.pick.rect().bottomLeft()))
        await wait_until(menu.isVisible)
        action = menu.actions()[0]
        centre = Point(menu.actionGeometry(action).center())
        release = QMouseEvent(
            QEvent.Type.MouseButtonRelease,
            centre,
            centre,
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(menu, release)
        assert action.isChecked() and menu.isVisible()
        menu.hide()
        editor.show_workflow(editor.workflow)


async def test_long_notices_show_every_line_of_their_text_at_1024_by_700(gui_app) -> None:
    """Two long notices posted together each get the height their wrapped text needs, inside the window."""
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        window = app.window(supervisor)
        window.resize(1024, 700)
        settle(window)
        long = (
            "“Assignment: Unassign After Conversation Closes” is published (version 1): it runs on every "
            "Conversation Closed event, as does “Assignment: Unassign After Conversation Closes” (2)."
        )
        window.notifier.info(long)
        window.notifier.warning(long + " Both act on the same closes: the first to run unassigns.", key="overlap")
        await wait_until(lambda: len(window.notifications.frames()) == 2)
        settle(window)
        area = window.notifications
        for frame in area.frames():
            label = frame.label
            assert label.height() >= label.heightForWidth(label.width()), (label.height(), label.width())
            assert area.rect().contains(frame.geometry()), (area.rect(), frame.geometry())
        assert window.rect().contains(geometry(area, window))
