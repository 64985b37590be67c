"""The live queue's rows: closed conversations, newest first, bounded so a busy day never grows it forever.

The cells live in Qt's own item model. The view repaints a busy queue several times a second, and a Python
model is called back for every visible cell and role on each repaint (data, rowCount and columnCount, over
a thousand calls), which kept the window's loop busy at 200 closes/s. Here each row's texts, chip and link
styling are set once, when the row arrives or changes, and repaints stay inside Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont, QGuiApplication, QPalette, QStandardItem, QStandardItemModel

from app.domain.conversations import ClosedBySource
from app.domain.queue import CHANGED, QueueRow, is_undo
from app.domain.workflows import RunOutcome
from ui import formatting
from ui.widgets.delegates import ChipPixmaps

COLUMNS = ("Time", "Contact", "Channel", "Closed by", "Category", "Assignee", "Outcome", "")
TIME, CONTACT, CHANNEL, CLOSED_BY, CATEGORY, ASSIGNEE, OUTCOME, ACTION = range(len(COLUMNS))
MAX_ROWS = 5_000
UNDO_TIP = "Give the contact back to the agent it had at close"

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
"""The outcome chip's status, on the Outcome cell."""
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2
"""Every text of the row, chip included, on its first cell: what the filter field matches."""


def undoable(row: QueueRow) -> bool:
    """Whether the queue offers Undo on this row (the facade still has the last word)."""
    run = row.run
    return (
        run is not None
        and run.id is not None
        and run.outcome is RunOutcome.DONE
        and not run.undone
        and not is_undo(run)
        and row.status in CHANGED
    )


class QueueModel(QStandardItemModel):
    """Rows in close-id order, newest first; `merge` inserts new closes at the top and updates the rest."""

    def __init__(self, max_rows: int = MAX_ROWS, parent: Any = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        assignee = self.horizontalHeaderItem(ASSIGNEE)
        if assignee is not None:
            assignee.setToolTip("The contact's assignee when the conversation closed")
        self._rows: list[QueueRow] = []
        self._position: dict[int, int] | None = {}
        self._close_of_run: dict[int, int] = {}  # each shown row's run id -> its close id
        self._max = max_rows
        self._extra_runs: dict[int, int] = {}
        self._chips = ChipPixmaps()
        self._palette = QGuiApplication.palette()
        self._link_font = QFont(QGuiApplication.font())
        self._link_font.setUnderline(True)

    def restyle(self, palette: QPalette) -> None:
        """Redraw the chips and links of every row for a new palette (the system switched light/dark)."""
        self._palette = QPalette(palette)
        for at, row in enumerate(self._rows):
            self._outcome(row, self.item(at, OUTCOME), self.item(at, ACTION))

    # -- cells -----------------------------------------------------------------------------------------------

    def _items(self, row: QueueRow) -> list[QStandardItem]:
        """A new row's cells. Editing is off in the view, so the items keep Qt's default flags."""
        texts = [display(row, column) for column in range(len(COLUMNS))]
        items = [QStandardItem(text) for text in texts]
        items[OUTCOME].setText(outcome_text(row))
        items[ACTION].setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if row.close.closed_by_source is ClosedBySource.DETECTED_BY_POLL:
            items[TIME].setToolTip(
                f"Detected by the reconciling poll at {formatting.when(row.close.closed_time)}: the close happened "
                "while no webhook reached Closeout, so the exact time it closed is not known."
            )
            items[CLOSED_BY].setToolTip(items[TIME].toolTip())
        else:
            items[TIME].setToolTip(f"Closed {formatting.when(row.close.closed_time)}")
        items[TIME].setData(" ".join(texts), SEARCH_ROLE)
        self._outcome(row, items[OUTCOME], items[ACTION])
        return items

    def _outcome(self, row: QueueRow, outcome: QStandardItem, action: QStandardItem) -> None:
        """The cells that follow the run: the chip, its reason and tooltip, and the Undo link."""
        outcome.setData(row.status.value, STATUS_ROLE)
        outcome.setData(self._chips.pixmap(row.status.value, self._palette), Qt.ItemDataRole.DecorationRole)
        outcome.setToolTip(f"{row.status}: {row.reason}")
        can_undo = undoable(row)
        action.setText("Undo" if can_undo else "")
        action.setToolTip(UNDO_TIP if can_undo else "")
        link = QBrush(self._palette.color(QPalette.ColorRole.Link))
        action.setData(self._link_font if can_undo else None, Qt.ItemDataRole.FontRole)
        action.setData(link if can_undo else None, Qt.ItemDataRole.ForegroundRole)

    def _update(self, at: int, row: QueueRow) -> None:
        """Show a new state of the row at `at` (its run synced, failed or was undone, or its channel was found)."""
        outcome, action = self.item(at, OUTCOME), self.item(at, ACTION)
        outcome.setText(outcome_text(row))
        self.item(at, CHANNEL).setText(display(row, CHANNEL))  # looked up on the platform after the close
        self._outcome(row, outcome, action)
        self.item(at, TIME).setData(" ".join(display(row, c) for c in range(len(COLUMNS))), SEARCH_ROLE)

    # -- reading -----------------------------------------------------------------------------------------------

    def row_at(self, row: int) -> QueueRow:
        """The queue row shown at `row`."""
        return self._rows[row]

    def shows(self, close_id: int) -> bool:
        """Whether close `close_id` has a row here."""
        return close_id in self._index()

    @property
    def has_channels(self) -> bool:
        """Whether any shown close names its channel (the column is hidden while none does)."""
        return any(row.close.channel for row in self._rows)

    @property
    def top_id(self) -> int | None:
        """The newest close id shown."""
        return self._rows[0].close.id if self._rows else None

    def close_ids_for_runs(self, run_ids: Iterable[int]) -> set[int]:
        """The closes (shown here) whose latest run, or a tracked undo run, is one of `run_ids`."""
        found: set[int] = set()
        for run_id in run_ids:
            close_id = self._close_of_run.get(run_id)
            if close_id is None:
                close_id = self._extra_runs.get(run_id)
            if close_id is not None:
                found.add(close_id)
        return found

    def track_run(self, run_id: int, close_id: int) -> None:
        """Refresh close `close_id` when run `run_id` changes too (an undo run is not the close's own run)."""
        self._extra_runs[run_id] = close_id
        if len(self._extra_runs) > self._max:
            for stale in sorted(self._extra_runs)[: len(self._extra_runs) - self._max]:
                del self._extra_runs[stale]

    # -- updates --------------------------------------------------------------------------------------------

    def merge(self, rows: Sequence[QueueRow]) -> int:
        """Update the rows already shown and insert the new ones in order; returns how many were inserted."""
        position = self._index()
        fresh: list[QueueRow] = []
        for row in rows:
            close_id = row.close.id
            if close_id is None:
                continue
            at = position.get(close_id)
            if at is None:
                fresh.append(row)
            elif shown_state(row) != shown_state(self._rows[at]):
                self._forget(self._rows[at])
                self._rows[at] = row
                self._remember(row)
                self._update(at, row)
        inserted = self._insert(fresh)
        self._trim()
        return inserted

    def replace_all(self, rows: Sequence[QueueRow]) -> None:
        """Show exactly these rows (the first load)."""
        self.removeRows(0, self.rowCount())
        self._rows, self._position, self._close_of_run = [], {}, {}
        self._insert(list(rows))
        self._trim()

    def _insert(self, fresh: list[QueueRow]) -> int:
        if not fresh:
            return 0
        fresh.sort(key=lambda r: r.close.id or 0)
        top = self.top_id
        for row in fresh:  # oldest first: each new row goes on top, so the newest ends first
            close_id = row.close.id or 0
            at = 0 if top is None or close_id > top else self._sorted_position(close_id)
            if at >= self._max:
                continue  # an old close that arrived late, below what the queue keeps
            self._rows.insert(at, row)
            self.insertRow(at, self._items(row))
            self._remember(row)
            top = self._rows[0].close.id
        self._position = None
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
            for row in self._rows[self._max :]:
                self._forget(row)
            self.removeRows(self._max, len(self._rows) - self._max)
            del self._rows[self._max :]
            self._position = None

    def _index(self) -> dict[int, int]:
        if self._position is None:
            self._position = {r.close.id: i for i, r in enumerate(self._rows) if r.close.id is not None}
        return self._position

    def _remember(self, row: QueueRow) -> None:
        if row.close.id is None:
            return
        for run in (*row.runs, *([row.run] if row.run is not None else [])):
            if run.id is not None:
                self._close_of_run[run.id] = row.close.id

    def _forget(self, row: QueueRow) -> None:
        for run in (*row.runs, *([row.run] if row.run is not None else [])):
            if run.id is not None:
                self._close_of_run.pop(run.id, None)


def display(row: QueueRow, column: int) -> str:
    """The text of one cell."""
    close = row.close
    if column == TIME:  # a poll's find says so in Closed by, and the tooltip has the full time
        return formatting.short_when(close.closed_time)
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


def outcome_text(row: QueueRow) -> str:
    """The Outcome cell's text after its chip: the reason, without the status the chip shows."""
    return row.reason.removeprefix(f"{row.status}: ")


def shown_state(row: QueueRow) -> tuple[object, ...]:
    """What the queue shows of a row that can change after it arrived."""
    return (row.status, row.reason, row.sync_state, row.run, row.runs, row.close.channel)
