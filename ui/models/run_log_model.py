"""The run log: one row per workflow run, newest first, loaded page by page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typing_extensions import override

from PySide6.QtCore import Qt

from app.domain.workflows import WorkflowRun
from ui import formatting
from ui.models.paged_model import PagedTableModel

COLUMNS = ("Started", "Workflow", "Contact", "Outcome", "Reason")
STARTED, WORKFLOW, CONTACT, OUTCOME, REASON = range(len(COLUMNS))
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True, slots=True)
class RunEntry:
    """A run and its contact's name."""

    run: WorkflowRun
    contact: str


def run_status(run: WorkflowRun) -> str:
    """The chip word for a run."""
    if run.undone:
        return "undone"
    if run.key.startswith("undo:"):
        return "undo"
    return formatting.OUTCOME_WORDS.get(run.outcome, run.outcome.value)


class RunLogModel(PagedTableModel[RunEntry]):
    """Display words for each run; workflow names come from `set_workflow_names`."""

    columns = COLUMNS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._workflows: dict[int, str] = {}

    def set_workflow_names(self, names: dict[int, str]) -> None:
        """Names to show for workflow ids."""
        self._workflows = dict(names)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, WORKFLOW), self.index(self.rowCount() - 1, WORKFLOW))

    @property
    def top_id(self) -> int | None:
        """The newest run id loaded."""
        rows = self._rows
        return rows[0].run.id if rows else None

    @override
    def cell(self, row: RunEntry, column: int, role: int) -> Any:
        run = row.run
        if role == STATUS_ROLE:
            return run_status(run)
        if role == RUN_ID_ROLE:
            return run.id
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if column == STARTED:
            return formatting.when(run.started_at)
        if column == WORKFLOW:
            return self._workflows.get(run.workflow_id, f"workflow {run.workflow_id}")
        if column == CONTACT:
            return row.contact
        if column == OUTCOME:
            return run_status(run)
        if column == REASON:  # the chip already says the outcome: "skipped: ..." would read twice
            return run.reason.removeprefix(f"{run.outcome.value}: ")
        return None
