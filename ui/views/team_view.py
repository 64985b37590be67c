"""The Team page's layout: where "online" comes from, the table of agents, and a line for what happened."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget


class TeamView(QWidget):
    """Layout only; `TeamPage` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("Team")
        title.setProperty("role", "title")
        header.addWidget(title)
        header.addStretch(1)
        self.refresh = QPushButton("Refresh")
        header.addWidget(self.refresh)
        layout.addLayout(header)
        self.explainer = QLabel("")
        self.explainer.setWordWrap(True)
        self.explainer.setProperty("role", "muted")
        layout.addWidget(self.explainer)
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        layout.addWidget(self.table, 1)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
