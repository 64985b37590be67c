"""Every item model passes pytest-qt's model tester, and behaves as the views rely on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pytestqt.modeltest import ModelTester

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from app.domain.conversations import ClosedBySource
from app.domain.history import Cursor
from app.domain.workflows import RunOutcome, Trigger, TriggerKind, Workflow, WorkflowState
from tests.gui import factories
from tests.helpers import wait_until
from ui.models import history_model, queue_model
from ui.models.dry_run_model import DryRunModel
from ui.models.history_model import HistoryEntry, HistoryModel
from ui.models.queue_model import QueueModel
from ui.models.run_log_model import RunEntry, RunLogModel
from ui.models.workflow_list_model import WorkflowListModel
from ui.tasks import OwnedTasks


def test_queue_model_passes_the_model_tester(qapp: QApplication, qtmodeltester: ModelTester) -> None:
    model = QueueModel(max_rows=50)
    model.replace_all([factories.queue_row(i) for i in range(1, 11)])
    qtmodeltester.check(model)
    model.merge([factories.queue_row(i) for i in range(11, 31)])
    qtmodeltester.check(model)


def test_queue_model_inserts_newest_first_updates_in_place_and_stays_bounded(qapp: QApplication) -> None:
    model = QueueModel(max_rows=25)
    model.replace_all([factories.queue_row(i) for i in range(1, 11)])
    inserted = model.merge([factories.queue_row(i) for i in range(11, 21)] + [factories.queue_row(3, "unassigned")])
    assert inserted == 10
    assert [model.row_at(r).close.id for r in range(3)] == [20, 19, 18]
    row_of_3 = next(r for r in range(model.rowCount()) if model.row_at(r).close.id == 3)
    assert model.data(model.index(row_of_3, queue_model.OUTCOME), queue_model.STATUS_ROLE) == "unassigned"
    model.merge([factories.queue_row(i) for i in range(21, 41)])
    assert model.rowCount() == 25
    assert model.row_at(0).close.id == 40 and model.row_at(24).close.id == 16
    assert model.close_ids_for_runs([40, 39, 1]) == {40, 39}
    # A close whose latest run is now another one is found by the new run, not the old.
    rerun = factories.queue_row(40)
    model.merge([replace(rerun, run=replace(rerun.run, id=400))])
    assert model.close_ids_for_runs([40]) == set() and model.close_ids_for_runs([400]) == {40}


def test_queue_model_offers_undo_only_on_runs_that_changed_something(qapp: QApplication) -> None:
    model = QueueModel()
    model.replace_all([factories.queue_row(1, "pending"), factories.queue_row(2, "skipped")])
    undo = {model.row_at(r).close.id: model.data(model.index(r, queue_model.ACTION)) for r in range(2)}
    assert undo == {1: "Undo", 2: ""}
    assert model.data(model.index(1, queue_model.ACTION), Qt.ItemDataRole.FontRole).underline()
    assert model.data(model.index(0, queue_model.ACTION), Qt.ItemDataRole.FontRole) is None


def test_queue_rows_carry_their_chip_and_are_found_by_any_text_the_row_shows(qapp: QApplication) -> None:
    model = QueueModel()
    model.replace_all([factories.queue_row(1, "pending"), factories.queue_row(2, "failed")])
    chip = model.data(model.index(0, queue_model.OUTCOME), Qt.ItemDataRole.DecorationRole)
    assert isinstance(chip, QPixmap) and not chip.isNull()
    assert model.data(model.index(0, queue_model.OUTCOME)) == "failed reason"  # the chip shows the status
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setFilterRole(queue_model.SEARCH_ROLE)
    proxy.setFilterKeyColumn(queue_model.TIME)
    proxy.setFilterFixedString("failed")
    assert proxy.rowCount() == 1
    proxy.setFilterFixedString(model.row_at(1).close.contact.name)
    assert proxy.rowCount() == 1

    dark = QPalette(QColor("#202020"))
    model.restyle(dark)
    assert model.data(model.index(0, queue_model.OUTCOME), Qt.ItemDataRole.DecorationRole).toImage() != chip.toImage()


async def test_history_model_pages_lazily(qtmodeltester: ModelTester) -> None:
    tasks = OwnedTasks("test")
    rows = [HistoryEntry(factories.change(i), f"Contact {i}") for i in range(1, 451)]
    calls: list[Any] = []

    async def fetch(cursor: Cursor | None) -> tuple[list[HistoryEntry], Cursor | None]:
        calls.append(cursor)
        start = 0 if cursor is None else cursor.id
        page = rows[start : start + 200]
        more = start + 200 < len(rows)
        return page, (Cursor(page[-1].change.at, start + 200) if more else None)

    model = HistoryModel(tasks, 200)
    model.set_agent_names({7: "Maya Park"})
    model.set_fetch(fetch)
    await model.wait_idle()
    assert model.rowCount() == 200 and model.canFetchMore()
    qtmodeltester.check(model)
    model.fetchMore()
    await model.wait_idle()
    await model.load_next()
    assert model.rowCount() == 450 and not model.canFetchMore()
    assert model.data(model.index(0, 2)) == "Maya Park" and model.data(model.index(0, 3)) == "unassigned"
    assert len(calls) == 3
    qtmodeltester.check(model)
    await tasks.aclose()


async def test_history_model_drops_a_page_from_an_older_filter() -> None:
    tasks = OwnedTasks("test")
    model = HistoryModel(tasks, 200)
    release = __import__("asyncio").Event()

    async def slow(cursor: Cursor | None) -> tuple[list[HistoryEntry], Cursor | None]:
        await release.wait()
        return [HistoryEntry(factories.change(1), "old")], None

    async def fast(cursor: Cursor | None) -> tuple[list[HistoryEntry], Cursor | None]:
        return [HistoryEntry(factories.change(2), "new")], None

    model.set_fetch(slow)
    model.set_fetch(fast)
    release.set()
    await wait_until(lambda: model.rowCount() == 1)
    await model.wait_idle()
    assert model.data(model.index(0, 1)) == "new"
    await tasks.aclose()


async def test_history_tells_apart_changes_of_workflows_that_share_a_name() -> None:
    tasks = OwnedTasks("test")
    model = HistoryModel(tasks, 200)
    other = replace(factories.change(2), workflow_id=2)

    async def fetch(cursor: Cursor | None) -> tuple[list[HistoryEntry], Cursor | None]:
        return [HistoryEntry(factories.change(1), "one"), HistoryEntry(other, "two")], None

    model.set_fetch(fetch)
    await model.wait_idle()
    by = history_model.COLUMNS.index("By")
    assert [model.data(model.index(r, by)) for r in (0, 1)] == ["Unassign on close"] * 2
    model.set_same_named({1, 2})  # a second workflow took the first one's name
    assert [model.data(model.index(r, by)) for r in (0, 1)] == ["Unassign on close (#1)", "Unassign on close (#2)"]
    await tasks.aclose()


async def test_run_log_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    tasks = OwnedTasks("test")
    entries = [RunEntry(factories.run(i, i), f"Contact {i}") for i in range(30, 0, -1)]

    async def fetch(before: int | None) -> tuple[list[RunEntry], int | None]:
        return entries, None

    model = RunLogModel(tasks, 200)
    model.set_workflow_names({1: "Unassign on close"})
    model.set_fetch(fetch)
    await model.wait_idle()
    qtmodeltester.check(model)
    assert model.top_id == 30 and model.data(model.index(0, 1)) == "Unassign on close"
    await tasks.aclose()


def test_workflow_list_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    from app.storage.workflows import WorkflowStats

    model = WorkflowListModel()
    workflows = [
        Workflow("Unassign", Trigger(TriggerKind.CONVERSATION_CLOSED), state=WorkflowState.PUBLISHED, id=1),
        Workflow("Draft", Trigger(TriggerKind.CONVERSATION_OPENED), id=2),
    ]
    model.set_workflows(workflows, {1: WorkflowStats(12, RunOutcome.DONE, "unassigned Maya Park")})
    qtmodeltester.check(model)
    assert model.data(model.index(0, 2)) == "12"
    assert model.data(model.index(1, 3)) == "no runs yet"
    assert model.row_of(2) == 1
    model.set_workflows(workflows, {1: WorkflowStats(3, RunOutcome.SKIPPED, "skipped: contact already unassigned")})
    assert model.data(model.index(0, 3)) == "skipped — contact already unassigned"


def test_dry_run_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    from app.bootstrap import DryRunReport
    from app.engine.dry_run import DryRunRow  # tests may reach below the facade to build a report

    rows = tuple(DryRunRow(factories.close(i), RunOutcome.DONE, "would unassign Maya Park") for i in range(1, 6))
    model = DryRunModel(DryRunReport("Unassign", rows).rows)
    qtmodeltester.check(model)
    assert model.data(model.index(0, 0)) is not None
    assert ClosedBySource.USER.label in model.data(model.index(0, 2))
