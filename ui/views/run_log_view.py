"""The run log's layout: workflow and outcome filters above the table of runs."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class RunLogView(QWidget):
    """Layout only; `RunLog` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("Run log")
        title.setProperty("role", "title")
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(QLabel("Workflow"))
        self.workflow = QComboBox()
        self.workflow.setMinimumContentsLength(22)
        header.addWidget(self.workflow)
        header.addWidget(QLabel("Outcome"))
        self.outcome = QComboBox()
        header.addWidget(self.outcome)
        self.reset = QPushButton("Reset filters")
        header.addWidget(self.reset)
        layout.addLayout(header)
        self.summary = QLabel("")
        self.summary.setProperty("role", "muted")
        layout.addWidget(self.summary)
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
