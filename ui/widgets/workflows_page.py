"""The workflows page: the template gallery, "My workflows", and the editor they open."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHeaderView, QWidget

from app.domain.errors import CloseoutError, PublishBlocked
from app.domain.workflows import Workflow, WorkflowState
from app.services.workflows import WorkflowService
from ui.bridge import Bridge
from ui.coalescer import Coalescer
from ui.compat import asyncSlot, nullable
from ui.dialogs.confirm_dialog import ConfirmDialog
from ui.models import workflow_list_model
from ui.models.workflow_list_model import WorkflowListModel
from ui.tasks import OwnedTasks
from ui.views.workflows_view import EDITOR, GALLERY, WorkflowsView
from ui.widgets.delegates import ChipDelegate, MiddleElideDelegate
from ui.widgets.notifications import Notifier
from ui.widgets.template_card import TemplateCard
from ui.widgets.workflow_editor import WorkflowEditor

CARD_COLUMNS = 2
STATS_MS = 2_000


class WorkflowsPage(WorkflowsView):
    """Use Template makes a draft and opens the editor; the list below shows each workflow's state and runs."""

    def __init__(
        self, workflows: WorkflowService, bridge: Bridge, notifier: Notifier, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._service = workflows
        self._notifier = notifier
        self.tasks = OwnedTasks("workflows")
        self.cards: dict[str, TemplateCard] = {}
        for i, template in enumerate(workflows.templates()):
            card = TemplateCard(template)
            card.use_requested.connect(self.use_template)
            self.gallery.addWidget(card, i // CARD_COLUMNS, i % CARD_COLUMNS)
            self.cards[template.id] = card
        self.model = WorkflowListModel(self)
        self.workflows.setModel(self.model)
        self.workflows.setItemDelegateForColumn(
            workflow_list_model.STATE, ChipDelegate(workflow_list_model.STATUS_ROLE, self.workflows)
        )
        self.workflows.setItemDelegateForColumn(workflow_list_model.NAME, MiddleElideDelegate(self.workflows))
        header = self.workflows.horizontalHeader()
        header.setSectionResizeMode(workflow_list_model.NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(workflow_list_model.LAST, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(workflow_list_model.STATE, 110)
        header.resizeSection(workflow_list_model.RUNS_TODAY, 90)
        self.editor = WorkflowEditor(workflows, notifier)
        self.editor_layout.addWidget(self.editor)
        self.editor.closed.connect(self.show_gallery)
        self.editor.saved.connect(lambda _: self.refresh())
        self._stats = Coalescer(STATS_MS, lambda _: self.refresh(), self)
        bridge.workflows_changed.connect(self._workflows_changed)
        bridge.runs_changed.connect(self._runs_changed)
        self.workflows.doubleClicked.connect(self._open_index)
        self.workflows.selectionModel().selectionChanged.connect(self._selection_changed)
        self.open.clicked.connect(self._open_selected)
        self.publish.clicked.connect(self._publish_selected)
        self.stop.clicked.connect(self._stop_selected)

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def _workflows_changed(self, _ids: list[int], initiator: object = None) -> None:
        # Rare, and the lead expects it at once. The page and its editor refresh after their own operations.
        if initiator is not self and initiator is not self.editor:
            self.refresh()

    def _runs_changed(self, ids: list[int]) -> None:
        if self.isVisible() and self.currentIndex() == GALLERY:
            self._stats.add(ids)

    def refresh(self) -> None:
        """Reload the workflows and their stats."""
        self.tasks.spawn(self._load(), "load")

    async def _load(self) -> None:
        workflows = await self._service.workflows()
        stats = await self._service.workflow_stats()
        selected = self.selected_workflow()
        self.model.set_workflows(workflows, stats)
        if selected is not None and selected.id is not None:
            row = self.model.row_of(selected.id)
            if row is not None:
                self.workflows.selectRow(row)
        self._selection_changed()

    def show_gallery(self) -> None:
        """Back from the editor."""
        self.setCurrentIndex(GALLERY)
        self.refresh()

    # -- gallery -------------------------------------------------------------------------------------------

    @asyncSlot(str)
    async def use_template(self, template_id: str) -> None:
        """Make a draft from the template and open it in the editor."""
        try:
            draft = (await self._service.use_template(template_id, initiator=self)).result
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        await self.open_editor(draft)

    async def open_editor(self, workflow: Workflow) -> None:
        """Show `workflow` in the editor."""
        await self.editor.open_workflow(workflow)
        self.setCurrentIndex(EDITOR)

    # -- my workflows --------------------------------------------------------------------------------------

    def selected_workflow(self) -> Workflow | None:
        """The workflow selected in the list."""
        model = nullable(self.workflows.selectionModel())
        rows = model.selectedRows() if model is not None else []
        return self.model.workflow_at(rows[0].row()) if rows else None

    def _selection_changed(self, *_: Any) -> None:
        workflow = self.selected_workflow()
        self.open.setEnabled(workflow is not None)
        self.publish.setEnabled(workflow is not None and workflow.state is not WorkflowState.PUBLISHED)
        self.stop.setEnabled(workflow is not None and workflow.state is WorkflowState.PUBLISHED)

    @asyncSlot(QModelIndex)
    async def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            await self.open_editor(self.model.workflow_at(index.row()))

    @asyncSlot()
    async def _open_selected(self) -> None:
        workflow = self.selected_workflow()
        if workflow is not None:
            await self.open_editor(workflow)

    @asyncSlot()
    async def _publish_selected(self) -> None:
        workflow = self.selected_workflow()
        if workflow is None or workflow.id is None:
            return
        try:
            published = (await self._service.publish(workflow.id, initiator=self)).result
        except PublishBlocked as exc:
            self._notifier.error(exc, action_label="Open in editor", action=lambda: self._open_later(workflow))
            return
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        self._notifier.info(f"“{published.name}” is published; it runs on the next event.")
        self.refresh()

    def _open_later(self, workflow: Workflow) -> None:
        self.tasks.spawn(self.open_editor(workflow), "open")

    @asyncSlot()
    async def _stop_selected(self) -> None:
        workflow = self.selected_workflow()
        if workflow is None or workflow.id is None:
            return
        if not await ConfirmDialog.ask(
            self, "Stop workflow", f"Stop “{workflow.name}”? It no longer runs on new events.", "Stop"
        ):
            return
        try:
            stopped = (await self._service.stop_workflow(workflow.id, initiator=self)).result
        except CloseoutError as exc:
            self._notifier.error(exc)
            return
        self._notifier.info(f"“{stopped.name}” is stopped.")
        self.refresh()
