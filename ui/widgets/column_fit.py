"""Fit a table's columns to its width by priority, so the key columns show without a horizontal scrollbar.

Qt's header can stretch columns but not rank them: below the preferred total, every column but the key ones
shrinks towards its minimum, and if that is not enough the least important ones are hidden (their text stays
in the row's tooltip and filter). The stretch column takes what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHeaderView, QTableView


@dataclass(frozen=True)
class Column:
    """One column's preferred and smallest width, and its rank (0 is kept longest; key columns never go)."""

    index: int
    preferred: int
    minimum: int
    priority: int = 0
    key: bool = False


class ColumnFitter(QObject):
    """Re-fits `table`'s columns each time its viewport changes size; `stretch` takes the remainder."""

    def __init__(self, table: QTableView, columns: Sequence[Column], stretch: int, stretch_minimum: int = 200) -> None:
        super().__init__(table)
        self.table = table
        self.columns = list(columns)
        self.stretch = stretch
        self.stretch_minimum = stretch_minimum
        self.hidden_by_fit: set[int] = set()
        self.kept_hidden: set[int] = set()  # hidden for reasons of their own (e.g. always empty)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        table.viewport().installEventFilter(self)
        self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Refit on every viewport resize."""
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def set_kept_hidden(self, index: int, hidden: bool) -> None:
        """Hide (or show again) a column for a reason of the caller's; fitting never shows it."""
        if hidden:
            self.kept_hidden.add(index)
        else:
            self.kept_hidden.discard(index)
        self.fit()

    def fit(self) -> None:
        """Give each shown column its width for the space there is."""
        available = self.table.viewport().width() - self.stretch_minimum
        shown = [c for c in self.columns if c.index not in self.kept_hidden]
        for column in sorted(shown, key=lambda c: (c.key, -c.priority)):
            if sum(c.minimum for c in shown) <= available or column.key:
                break
            shown.remove(column)
        preferred = sum(c.preferred for c in shown)
        minimum = sum(c.minimum for c in shown)
        if preferred <= available or preferred == minimum:
            share = 1.0
        else:
            share = max(0.0, (available - minimum) / (preferred - minimum))
        header = self.table.horizontalHeader()
        visible = {c.index for c in shown}
        self.hidden_by_fit = {
            c.index for c in self.columns if c.index not in visible and c.index not in self.kept_hidden
        }
        for column in self.columns:
            self.table.setColumnHidden(column.index, column.index not in visible)
            if column.index in visible:
                width = column.minimum + int((column.preferred - column.minimum) * min(1.0, share))
                header.resizeSection(column.index, width)
