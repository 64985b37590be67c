"""The live queue's rows: closed conversations, newest first, bounded so a busy day never grows it forever."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from typing_extensions import override

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.bootstrap import QueueRow
from app.domain.workflows import RunOutcome
from ui import formatting

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()

COLUMNS = ("Time", "Contact", "Channel", "Closed by", "Category", "Assignee at close", "Outcome", "")
TIME, CONTACT, CHANNEL, CLOSED_BY, CATEGORY, ASSIGNEE, OUTCOME, ACTION = range(len(COLUMNS))
MAX_ROWS = 5_000

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
REASON_ROLE = Qt.ItemDataRole.UserRole + 2
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 3
CLOSE_ID_ROLE = Qt.ItemDataRole.UserRole + 4
UNDOABLE_ROLE = Qt.ItemDataRole.UserRole + 5


def undoable(row: QueueRow) -> bool:
    """Whether the queue offers Undo on this row (the facade still has the last word)."""
    run = row.run
    return (
        run is not None
        and run.id is not None
        and run.outcome is RunOutcome.DONE
        and not run.undone
        and not run.key.startswith("undo:")
        and row.status in {"pending", "unassigned", "assigned"}
    )


class QueueModel(QAbstractTableModel):
    """Rows in close-id order, newest first; `merge` inserts new closes at the top in one go."""

    def __init__(self, max_rows: int = MAX_ROWS, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[QueueRow] = []
        self._position: dict[int, int] | None = {}
        self._max = max_rows
        self._extra_runs: dict[int, int] = {}

    # -- Qt ---------------------------------------------------------------------------------------------------

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
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == OUTCOME:
                return f"{row.status}: {row.reason}"
            if column == ACTION and undoable(row):
                return "Give the contact back to the agent it had at close"
            return self._display(row, column) or None
        if role == STATUS_ROLE:
            return row.status
        if role == REASON_ROLE:
            return row.reason
        if role == RUN_ID_ROLE:
            return row.run.id if row.run is not None else None
        if role == CLOSE_ID_ROLE:
            return row.close.id
        if role == UNDOABLE_ROLE:
            return undoable(row)
        return None

    @staticmethod
    def _display(row: QueueRow, column: int) -> str:
        close = row.close
        if column == TIME:
            return formatting.when(close.closed_time)
        if column == CONTACT:
            return close.contact.name
        if column == CHANNEL:
            return close.channel or formatting.NONE
        if column == CLOSED_BY:
            return formatting.closed_by(close)
        if column == CATEGORY:
            return close.category or formatting.NONE
        if column == ASSIGNEE:
            return close.assignee_at_close.name if close.assignee_at_close else "unassigned"
        if column == OUTCOME:
            reason = row.reason.removeprefix(f"{row.status}: ")
            return f"{row.status} — {reason}" if reason else row.status
        if column == ACTION:
            return "Undo" if undoable(row) else ""
        return ""

    # -- updates --------------------------------------------------------------------------------------------

    def row_at(self, row: int) -> QueueRow:
        """The queue row shown at `row`."""
        return self._rows[row]

    @property
    def top_id(self) -> int | None:
        """The newest close id shown."""
        return self._rows[0].close.id if self._rows else None

    def close_ids_for_runs(self, run_ids: Iterable[int]) -> set[int]:
        """The closes (shown here) whose latest run, or a tracked undo run, is one of `run_ids`."""
        wanted = set(run_ids)
        found = {r.close.id for r in self._rows if r.run is not None and r.run.id in wanted and r.close.id is not None}
        found.update(self._extra_runs[i] for i in wanted & self._extra_runs.keys())
        return found

    def track_run(self, run_id: int, close_id: int) -> None:
        """Refresh close `close_id` when run `run_id` changes too (an undo run is not the close's own run)."""
        self._extra_runs[run_id] = close_id
        if len(self._extra_runs) > self._max:
            for stale in sorted(self._extra_runs)[: len(self._extra_runs) - self._max]:
                del self._extra_runs[stale]

    def _index(self) -> dict[int, int]:
        if self._position is None:
            self._position = {r.close.id: i for i, r in enumerate(self._rows) if r.close.id is not None}
        return self._position

    def merge(self, rows: Sequence[QueueRow]) -> int:
        """Update the rows already shown and insert the new ones in order; returns how many were inserted."""
        position = self._index()
        fresh: list[QueueRow] = []
        changed: list[int] = []
        for row in rows:
            close_id = row.close.id
            if close_id is None:
                continue
            at = position.get(close_id)
            if at is None:
                fresh.append(row)
            else:
                self._rows[at] = row
                changed.append(at)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))
        inserted = self._insert(fresh)
        self._trim()
        return inserted

    def _insert(self, fresh: list[QueueRow]) -> int:
        if not fresh:
            return 0
        fresh.sort(key=lambda r: r.close.id or 0, reverse=True)
        top = self.top_id
        newer = [r for r in fresh if top is None or (r.close.id or 0) > top]
        older = [r for r in fresh if not (top is None or (r.close.id or 0) > top)]
        if newer:
            self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
            self._rows[0:0] = newer
            self._position = None
            self.endInsertRows()
        for row in older:  # rare: a close that arrived out of order
            at = self._sorted_position(row.close.id or 0)
            if at >= self._max:
                continue
            self.beginInsertRows(QModelIndex(), at, at)
            self._rows.insert(at, row)
            self._position = None
            self.endInsertRows()
        return len(fresh)

    def _sorted_position(self, close_id: int) -> int:
        lo, hi = 0, len(self._rows)
        while lo < hi:
            mid = (lo + hi) // 2
            if (self._rows[mid].close.id or 0) > close_id:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _trim(self) -> None:
        if len(self._rows) > self._max:
            self.beginRemoveRows(QModelIndex(), self._max, len(self._rows) - 1)
            del self._rows[self._max :]
            self._position = None
            self.endRemoveRows()

    def replace_all(self, rows: Sequence[QueueRow]) -> None:
        """Show exactly these rows (the first load)."""
        self.beginResetModel()
        self._rows = sorted(rows, key=lambda r: r.close.id or 0, reverse=True)[: self._max]
        self._position = None
        self.endResetModel()
