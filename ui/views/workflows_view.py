"""The workflows page's layout: the template gallery and "My workflows", or the editor in their place."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

GALLERY, EDITOR = 0, 1


class WorkflowsView(QStackedWidget):
    """Layout only; `WorkflowsPage` adds the cards, the editor and the logic."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 8, 0)
        title = QLabel("Workflows")
        title.setProperty("role", "title")
        layout.addWidget(title)
        intro = QLabel("Pick a template to start: Closeout makes a draft copy and opens it in the editor.")
        intro.setProperty("role", "muted")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.gallery = QGridLayout()
        self.gallery.setSpacing(12)
        layout.addLayout(self.gallery)

        mine = QLabel("My workflows")
        mine.setProperty("role", "section")
        layout.addSpacing(8)
        layout.addWidget(mine)
        self.workflows = QTableView()
        self.workflows.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.workflows.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.workflows.setAlternatingRowColors(True)
        self.workflows.verticalHeader().hide()
        self.workflows.verticalHeader().setDefaultSectionSize(28)
        self.workflows.horizontalHeader().setStretchLastSection(True)
        self.workflows.setMinimumHeight(150)
        layout.addWidget(self.workflows, 1)
        actions = QHBoxLayout()
        self.open = QPushButton("Open")
        self.publish = QPushButton("Publish")
        self.stop = QPushButton("Stop")
        for button in (self.open, self.publish, self.stop):
            button.setEnabled(False)
            actions.addWidget(button)
        actions.addStretch(1)
        layout.addLayout(actions)
        scroll.setWidget(body)
        self.addWidget(scroll)
        self.editor_slot = QWidget()
        self.editor_layout = QVBoxLayout(self.editor_slot)
        self.editor_layout.setContentsMargins(0, 0, 0, 0)
        self.addWidget(self.editor_slot)
