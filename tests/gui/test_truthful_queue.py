"""With two workflows on one trigger, a queue row shows what happened to the contact, over every run on its close."""

from __future__ import annotations

import json

import pytest

from app.commands import queue_json
from app.domain.workflows import RunOutcome
from tests.helpers import wait_until
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.dialogs.run_detail_dialog import RunDetailDialog
from ui.main_window import QUEUE
from ui.models import queue_model


@pytest.mark.slow
async def test_two_workflows_one_close_shows_the_effective_outcome_with_undo_on_the_run_that_changed(
    gui_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[bool] = [False, True]  # the first Undo is cancelled at the question, the second confirmed

    async def confirm(cls, parent, title: str, text: str, action: str) -> bool:
        return answers.pop(0)

    monkeypatch.setattr(ConfirmDialog, "ask", classmethod(confirm))
    async with gui_app() as app:
        supervisor = await app.open(demo=True, seeded=False, rate=1200.0)
        first = (
            await supervisor.workflow_service.use_template("unassign-after-close", name="Unassign on close")
        ).result
        second = (
            await supervisor.workflow_service.use_template("unassign-after-close", name="Unassign on close, copy")
        ).result
        assert first.id is not None and second.id is not None
        await supervisor.workflow_service.publish(first.id)
        await supervisor.workflow_service.publish(second.id)
        window = app.window(supervisor)
        window.show_page(QUEUE)
        await supervisor.start()
        model = window.live_queue.model

        def doubled() -> list[int]:
            found = []
            for r in range(model.rowCount()):
                row = model.row_at(r)
                workflows = {run.workflow_id for run in row.runs}
                if {first.id, second.id} <= workflows and row.status == "unassigned":
                    found.append(r)
            return found

        await wait_until(doubled, timeout=60)
        at = doubled()[0]
        row = model.row_at(at)
        assert len(row.runs) >= 2
        # The row tells what happened to the contact, from the run that changed it, and offers Undo on that run.
        changing = row.run
        assert changing is not None and changing.outcome is RunOutcome.DONE
        assert (await supervisor.queue_service.run_detail(changing.id)).changes
        assert model.item(at, queue_model.ACTION).text() == "Undo"
        assert queue_model.undoable(row)
        # Every run on the close is in the JSON the CLI prints, and in the detail the row opens.
        printed = json.loads(json.dumps(queue_json(row)))
        assert [r["run_id"] for r in printed["runs"]] == [run.id for run in row.runs]
        assert printed["run_id"] == changing.id and printed["outcome"] == "unassigned"
        detail = await supervisor.queue_service.run_detail(changing.id)
        dialog = RunDetailDialog(detail, {}, window)
        assert f"Every run on this close ({len(row.runs)})" in dialog.runs.text()
        for run in row.runs:
            assert f"run {run.id}" in dialog.runs.text()
        dialog.deleteLater()

        # Undo from the row: the row says undone, and the undo run joins the close's runs.
        close_id = row.close.id
        window.live_queue.undo_row(at)  # cancelled: nothing is undone
        await wait_until(lambda: len(answers) == 1)
        assert not [
            r for r in (await supervisor.queue_service.queue_rows([close_id]))[0].runs if r.key.startswith("undo:")
        ]
        window.live_queue.undo_row(at)

        def current():
            for r in range(model.rowCount()):
                if model.row_at(r).close.id == close_id:
                    return model.row_at(r)
            raise AssertionError("the row left the queue")

        await wait_until(lambda: current().status == "undone", timeout=30)
        after = current()
        assert any(run.key == f"undo:{changing.id}" for run in after.runs)
        assert "undo" in after.reason
        assert after.run is not None and after.run.id == changing.id
        assert not queue_model.undoable(after)


@pytest.mark.slow
async def test_the_count_follows_the_filter_and_pause_counts_new_closes_only(gui_app) -> None:
    async with gui_app() as app:
        supervisor = await app.open(demo=True, rate=1200.0)
        window = app.window(supervisor)
        window.show_page(QUEUE)
        await supervisor.start()
        queue = window.live_queue
        await wait_until(lambda: queue.model.rowCount() >= 10, timeout=60)
        name = queue.model.row_at(0).close.contact.name
        queue.filter.setText(name)
        total = queue.model.rowCount()
        assert queue.summary.text().startswith(f"{queue.proxy.rowCount():,} of ")
        assert queue.proxy.rowCount() < total
        queue.filter.clear()
        assert queue.summary.text().startswith(f"{queue.model.rowCount():,} closes")

        queue.pause.setChecked(True)
        await wait_until(lambda: queue.arrived_while_paused() >= 3, timeout=60)
        shown = {queue.model.row_at(r).close.id for r in range(queue.model.rowCount())}
        arrived = queue.arrived_while_paused()
        assert arrived == len(queue._closes.pending_ids() - shown)
        await wait_until(lambda: f"paused, {queue.arrived_while_paused():,} new closes waiting" in queue.summary.text())
        # The demo names no channel, so the always-empty Channel column is hidden.
        assert queue.table.isColumnHidden(queue_model.CHANNEL) == (not queue.model.has_channels)
        queue.pause.setChecked(False)
        await wait_until(lambda: queue.arrived_while_paused() == 0, timeout=30)
