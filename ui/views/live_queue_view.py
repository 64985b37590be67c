"""The live queue's layout: a filter, Pause, and the table of closed conversations."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class LiveQueueView(QWidget):
    """Layout only; `LiveQueue` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("Live queue")
        title.setProperty("role", "title")
        header.addWidget(title)
        self.summary = QLabel("")
        self.summary.setProperty("role", "muted")
        header.addWidget(self.summary, 1)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: contact, agent, category, outcome…")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumWidth(260)
        header.addWidget(self.filter)
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.pause.setToolTip("Stop new closes from scrolling in; they are kept and shown when you resume")
        header.addWidget(self.pause)
        self.undo = QPushButton("Undo")
        self.undo.setToolTip("Give the selected contact back to the agent it had at close")
        self.undo.setEnabled(False)
        header.addWidget(self.undo)
        layout.addLayout(header)
        hint = QLabel("Closed conversations arrive here newest first. Double-click a row for the run's detail.")
        hint.setProperty("role", "muted")
        layout.addWidget(hint)

        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        layout.addWidget(self.table, 1)
