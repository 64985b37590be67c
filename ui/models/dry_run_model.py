"""A dry run's rows: what the workflow would have done to each past close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import override

from PySide6.QtCore import Qt

from app.domain.workflows import RunOutcome
from ui import formatting
from ui.models.table_model import RowTableModel

COLUMNS = ("Closed", "Contact", "Closed by", "Category", "Outcome", "Reason")
CLOSED, CONTACT, CLOSED_BY, CATEGORY, OUTCOME, REASON = range(len(COLUMNS))
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
DRY_RUN_WORDS = {
    RunOutcome.DONE: "would run",
    RunOutcome.SKIPPED: "skipped",
    RunOutcome.FAILED: "failed",
    RunOutcome.WAITING: "waiting",
}


class DryRunModel(RowTableModel[Any]):
    """Rows are `DryRunRow`s (close, outcome, reason), newest first."""

    columns = COLUMNS

    def __init__(self, rows: Sequence[Any] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._rows = list(reversed(rows))

    @override
    def cell(self, row: Any, column: int, role: int) -> Any:
        if role == STATUS_ROLE:
            return row.outcome.value
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        close = row.close
        if column == CLOSED:
            return formatting.when(close.closed_time)
        if column == CONTACT:
            return close.contact.name
        if column == CLOSED_BY:
            return formatting.closed_by(close)
        if column == CATEGORY:
            return close.category or formatting.NONE
        if column == OUTCOME:  # the words the dialog's summary and counts use
            return DRY_RUN_WORDS.get(row.outcome, row.outcome.value)
        if column == REASON:
            return row.reason.removeprefix(f"{row.outcome.value}: ")
        return None
