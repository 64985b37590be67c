"""A dry run's rows: what the workflow would have done to each past close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import override

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ui import formatting

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()
COLUMNS = ("Closed", "Contact", "Closed by", "Category", "Outcome", "Reason")
CLOSED, CONTACT, CLOSED_BY, CATEGORY, OUTCOME, REASON = range(len(COLUMNS))
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1


class DryRunModel(QAbstractTableModel):
    """Rows are `DryRunRow`s (close, outcome, reason), newest first."""

    def __init__(self, rows: Sequence[Any] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._rows = list(reversed(rows))

    @override
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    @override
    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    @override
    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            orientation is Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    @override
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == STATUS_ROLE:
            return row.outcome.value
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        close = row.close
        column = index.column()
        if column == CLOSED:
            return formatting.when(close.closed_time)
        if column == CONTACT:
            return close.contact.name
        if column == CLOSED_BY:
            return formatting.closed_by(close)
        if column == CATEGORY:
            return close.category or formatting.NONE
        if column == OUTCOME:
            return formatting.OUTCOME_WORDS.get(row.outcome, row.outcome.value)
        if column == REASON:
            return row.reason
        return None
