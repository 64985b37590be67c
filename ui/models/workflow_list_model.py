"""My workflows: each workflow with its state, runs today and last outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import override

from PySide6.QtCore import Qt

from app.domain.workflows import Workflow
from ui import formatting
from ui.models.table_model import RowTableModel

COLUMNS = ("Workflow", "State", "Runs today", "Last outcome")
NAME, STATE, RUNS_TODAY, LAST = range(len(COLUMNS))
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
WORKFLOW_ID_ROLE = Qt.ItemDataRole.UserRole + 2


class WorkflowListModel(RowTableModel[Workflow]):
    """Rows are workflows, oldest first; stats come from `WorkflowService.workflow_stats`."""

    columns = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._stats: Mapping[int, Any] = {}

    def set_workflows(self, workflows: Sequence[Workflow], stats: Mapping[int, Any]) -> None:
        """Show these workflows and their stats (WorkflowStats by workflow id)."""
        self.beginResetModel()
        self._rows = list(workflows)
        self._stats = dict(stats)
        self._labels = formatting.workflow_labels(self._rows)
        self.endResetModel()

    def workflow_at(self, row: int) -> Workflow:
        """The workflow shown at `row`."""
        return self._rows[row]

    def row_of(self, workflow_id: int) -> int | None:
        """Where a workflow is shown."""
        for i, workflow in enumerate(self._rows):
            if workflow.id == workflow_id:
                return i
        return None

    @override
    def cell(self, workflow: Workflow, column: int, role: int) -> Any:
        stats = self._stats.get(workflow.id or 0)
        if role == WORKFLOW_ID_ROLE:
            return workflow.id
        if role == STATUS_ROLE:
            return (
                workflow.state.value
                if column == STATE
                else (stats.last_outcome.value if stats and stats.last_outcome else "")
            )
        if role == Qt.ItemDataRole.ToolTipRole and column == LAST and stats is not None:
            return stats.last_reason
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == NAME:
            return getattr(self, "_labels", {}).get(workflow.id or 0, workflow.name)
        if column == STATE:
            return formatting.STATE_WORDS[workflow.state]
        if column == RUNS_TODAY:
            return str(stats.runs_today if stats else 0)
        if column == LAST:
            if stats is None or stats.last_outcome is None:
                return "no runs yet"
            outcome = stats.last_outcome.value
            reason = (stats.last_reason or "").removeprefix(f"{outcome}: ")  # "skipped — skipped: ..." says it twice
            return f"{outcome} — {reason}".rstrip(" —")
        return None
