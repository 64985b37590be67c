"""Publishing in the editor a workflow whose trigger overlaps a published one warns and names it."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from app.domain.workflows import WorkflowState
from tests.helpers import wait_until
from ui.widgets.notifications import Notice


async def test_publishing_a_second_unassign_workflow_warns_and_names_the_first(qtbot: QtBot, gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        window = app.window(supervisor)
        notices: list[Notice] = []
        window.notifier.posted.connect(notices.append)
        page = window.workflows_page
        first = None
        for _ in range(2):  # Use Template on the unassign card twice, publishing each copy
            qtbot.mouseClick(page.cards["unassign-after-close"].use, Qt.MouseButton.LeftButton)
            await wait_until(lambda: page.currentIndex() == 1 and page.editor.workflow is not None)
            qtbot.mouseClick(page.editor.publish, Qt.MouseButton.LeftButton)
            await wait_until(lambda: page.editor.workflow.state is WorkflowState.PUBLISHED)
            first = first or page.editor.workflow
            page.setCurrentIndex(0)

        await wait_until(lambda: any(n.level == "warning" for n in notices))
        (warning,) = [n for n in notices if n.level == "warning"]
        assert warning.text.startswith(f'"{first.name}" is published on the same trigger')
