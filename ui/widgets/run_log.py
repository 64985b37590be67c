"""The run log: every workflow run with its outcome and reason, filterable; double-click for the detail."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from app.domain.errors import CloseoutError
from app.domain.workflows import RunOutcome, WorkflowRun
from app.services.queue import QueueService
from ui import formatting
from ui.bridge import Bridge
from ui.coalescer import Coalescer
from ui.combo import current_enum
from ui.compat import asyncSlot
from ui.dialogs.run_detail_dialog import RunDetailDialog
from ui.models import run_log_model
from ui.models.run_log_model import RunEntry, RunLogModel
from ui.tasks import OwnedTasks
from ui.views.run_log_view import RunLogView
from ui.widgets.column_fit import Column, ColumnFitter
from ui.widgets.delegates import ChipDelegate, MiddleElideDelegate
from ui.widgets.empty_state import EmptyState
from ui.widgets.notifications import Notifier

PAGE = 200
LIVE_MS = 1_000


class RunLog(RunLogView):
    """Owns the run-log model; new runs are prepended while the page is visible."""

    def __init__(self, queue: QueueService, bridge: Bridge, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = queue
        self._notifier = notifier
        self.tasks = OwnedTasks("run-log")
        self.model = RunLogModel(self.tasks, PAGE, parent=self)
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(run_log_model.OUTCOME, ChipDelegate(run_log_model.STATUS_ROLE, self.table))
        self.fitter = ColumnFitter(
            self.table,
            (
                Column(0, 120, 70, priority=1),
                Column(1, 260, 120, priority=0),
                Column(2, 160, 90, priority=2),
                Column(run_log_model.OUTCOME, 100, 90, key=True),
            ),
            stretch=len(run_log_model.COLUMNS) - 1,
        )
        self.table.setItemDelegateForColumn(run_log_model.WORKFLOW, MiddleElideDelegate(self.table))
        self.workflow.addItem("Any workflow", None)
        self.outcome.addItem("Any outcome", None)
        for outcome in RunOutcome:
            self.outcome.addItem(formatting.OUTCOME_WORDS[outcome], outcome)
        self._dirty = True
        self._generation = 0
        self._live = Coalescer(LIVE_MS, self._refresh, self)
        self.workflow.currentIndexChanged.connect(self.apply_filters)
        self.outcome.currentIndexChanged.connect(self.apply_filters)
        self.table.doubleClicked.connect(self._open_detail)
        self.model.rows_loaded.connect(self._update_summary)
        self.reset.clicked.connect(self.reset_filters)
        self.empty = EmptyState(
            self.table,
            "No run matches these filters. Press Reset filters; runs appear here as published workflows run.",
            busy=lambda: bool(self.model.loading),
        )
        self.model.rows_loaded.connect(self.empty.update_state)
        bridge.runs_changed.connect(self._runs_changed)
        bridge.workflows_changed.connect(self._workflows_changed)

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self._dirty = False
            self.tasks.spawn(self._open(), "open")

    async def _open(self) -> None:
        await self._load_workflows()
        self.apply_filters()

    def _workflows_changed(self, *_: Any) -> None:
        self.tasks.spawn(self._load_workflows(), "workflows")

    async def _load_workflows(self) -> None:
        workflows = await self._service.workflows()
        labels = formatting.workflow_labels(workflows)
        self.model.set_workflow_names(labels)
        current = self.workflow.currentData()
        self.workflow.blockSignals(True)
        self.workflow.clear()
        self.workflow.addItem("Any workflow", None)
        for workflow in workflows:
            self.workflow.addItem(labels.get(workflow.id or 0, workflow.name), workflow.id)
        self.workflow.setCurrentIndex(max(0, self.workflow.findData(current)))
        self.workflow.blockSignals(False)

    def reset_filters(self) -> None:
        """Any workflow, any outcome."""
        for combo in (self.workflow, self.outcome):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.apply_filters()

    def apply_filters(self, *_: Any) -> None:
        """Start over with the chosen workflow and outcome."""
        self._generation += 1
        workflow_id = self.workflow.currentData()
        outcome = current_enum(self.outcome, RunOutcome)

        async def fetch(before: int | None) -> tuple[list[RunEntry], int | None]:
            runs = await self._service.runs(workflow_id, outcome, before, PAGE)
            entries = await self._entries(runs)
            last = runs[-1].id if len(runs) == PAGE else None
            return entries, last

        self.model.set_fetch(fetch)

    async def _entries(self, runs: list[WorkflowRun]) -> list[RunEntry]:
        names = await self._service.contact_names([run.contact_id for run in runs])
        return [RunEntry(run, names.get(run.contact_id, f"contact {run.contact_id}")) for run in runs]

    def _update_summary(self, shown: int) -> None:
        more = " (scroll for older runs)" if self.model.has_more else ""
        self.summary.setText(f"{shown:,} runs loaded{more}. Double-click a run for its detail.")

    def _runs_changed(self, ids: list[int]) -> None:
        if self.isVisible():
            self._live.add(ids)
        else:
            self._dirty = True

    def _refresh(self, ids: set[int]) -> None:
        if self.isVisible() and not self.model.loading:
            self.tasks.spawn(self._apply(self._generation, ids), "live")

    async def _apply(self, generation: int, ids: set[int]) -> None:
        # The newest page holds every new run and most updated ones: merge it rather than reloading the log.
        runs = await self._service.runs(self.workflow.currentData(), current_enum(self.outcome, RunOutcome), None, PAGE)
        if generation != self._generation:
            return
        entries = await self._entries(runs)
        if generation != self._generation:
            return
        top = self.model.top_id or 0
        self.model.replace_where(
            {e.run.id: e for e in entries if e.run.id is not None and e.run.id <= top}, lambda e: e.run.id
        )
        self.model.prepend([e for e in entries if (e.run.id or 0) > top])
        self._update_summary(self.model.rowCount())

    @asyncSlot(QModelIndex)
    async def _open_detail(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        run = self.model.row_at(index.row()).run
        if run.id is None:
            return
        try:
            detail = await self._service.run_detail(run.id)
            names = {agent_id: agent.name for agent_id, agent in (await self._service.agents()).items()}
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        RunDetailDialog.ask(self, detail, names)
