"""The widget that starts an operation refreshes once: the change-set it gets back names it, so it skips the echo."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pytest

from app.domain.queue import QueueRow
from app.domain.workflows import WorkflowState
from tests.helpers import wait_until
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.main_window import QUEUE, WORKFLOWS
from ui.models import queue_model
from ui.widgets.notifications import Notice

if TYPE_CHECKING:
    from app.storage.workflows import WorkflowStats


async def test_undo_from_the_queue_asks_for_its_row_once_and_reads_it_once(
    gui_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def confirm(cls, parent, title: str, text: str, action: str) -> bool:
        return True

    monkeypatch.setattr(ConfirmDialog, "ask", classmethod(confirm))
    async with gui_app() as app:
        supervisor = await app.open(demo=True)
        window = app.window(supervisor)
        window.show_page(QUEUE)
        await supervisor.start(poll=False, drain=False)  # the demo's month of past closes, synced; nothing is sent
        queue = window.live_queue
        await wait_until(lambda: queue.model.rowCount() > 0, timeout=30)
        at = next(r for r in range(queue.model.rowCount()) if queue_model.undoable(queue.model.row_at(r)))
        close_id = queue.model.row_at(at).close.id
        assert close_id is not None

        requested: list[set[int]] = []  # each time the page asked for rows to be refreshed
        request = queue._closes.add

        def counted_request(ids: Iterable[int]) -> None:
            requested.append(set(ids))
            request(requested[-1])

        monkeypatch.setattr(queue._closes, "add", counted_request)
        read: list[list[int]] = []  # each time it read rows
        service = supervisor.queue_service
        rows = service.queue_rows

        async def counted_read(close_ids: Sequence[int]) -> list[QueueRow]:
            read.append(list(close_ids))
            return await rows(close_ids)

        monkeypatch.setattr(service, "queue_rows", counted_read)
        queue.undo_row(at)

        def shown() -> QueueRow:
            return next(
                row for row in map(queue.model.row_at, range(queue.model.rowCount())) if row.close.id == close_id
            )

        await wait_until(lambda: shown().status == "undone", timeout=30)
        await wait_until(lambda: queue.idle, timeout=10)
        assert sum(close_id in ids for ids in requested) == 1
        assert sum(close_id in ids for ids in read) == 1
        assert any(run.key.startswith("undo:") for run in shown().runs)


async def test_publish_from_the_workflows_page_reloads_its_list_once(gui_app, monkeypatch: pytest.MonkeyPatch) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False)
        draft = (await supervisor.workflow_service.use_template("unassign-after-close")).result
        window = app.window(supervisor)
        window.show_page(WORKFLOWS)
        page = window.workflows_page
        await wait_until(lambda: page.model.rowCount() == 1 and len(page.tasks) == 0, timeout=30)
        notices: list[Notice] = []
        window.notifier.posted.connect(notices.append)
        loads = 0  # each time the page read its list (the stats are read with it, by nothing else)
        service = supervisor.workflow_service
        stats = service.workflow_stats

        async def counted() -> dict[int, WorkflowStats]:
            nonlocal loads
            loads += 1
            return await stats()

        monkeypatch.setattr(service, "workflow_stats", counted)
        page.workflows.selectRow(0)
        page.publish.click()
        await wait_until(lambda: any("is published" in n.text for n in notices) and len(page.tasks) == 0, timeout=30)
        assert page.model.workflow_at(0).id == draft.id
        assert page.model.workflow_at(0).state is WorkflowState.PUBLISHED
        assert loads == 1
