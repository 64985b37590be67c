"""The history's layout: filters, count and export above a split of the table and the charts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class HistoryView(QWidget):
    """Layout only; `HistoryPanel` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("History")
        title.setProperty("role", "title")
        header.addWidget(title)
        self.count = QLabel("")
        self.count.setProperty("role", "muted")
        header.addWidget(self.count, 1)
        self.export_progress = QProgressBar()
        self.export_progress.setMaximumWidth(180)
        self.export_progress.setTextVisible(True)
        self.export_progress.hide()
        header.addWidget(self.export_progress)
        self.cancel_export = QPushButton("Cancel")
        self.cancel_export.hide()
        header.addWidget(self.cancel_export)
        self.for_excel = QCheckBox("For Excel")
        self.for_excel.setToolTip("Start the file with a UTF-8 mark so Excel shows names like “Lucía” and “João” right")
        self.for_excel.setChecked(True)
        header.addWidget(self.for_excel)
        self.export = QPushButton("Export CSV…")
        header.addWidget(self.export)
        layout.addLayout(header)

        filters = QGridLayout()
        filters.setHorizontalSpacing(8)
        self.preset = QComboBox()
        self.range_button = QPushButton("Choose dates…")
        self.range_button.hide()
        self.agent = QComboBox()
        self.agent.setMinimumContentsLength(14)
        self.team = QComboBox()
        self.team.setMinimumContentsLength(12)  # "Customer Support (2)" whole, not cut to "VIP Care (3"
        self.team.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.team.setToolTip("Changes from or to any agent of the team")
        self.source = QComboBox()
        self.workflow = QComboBox()
        self.workflow.setMinimumContentsLength(18)
        self.outcome = QComboBox()
        self.contact = QLineEdit()
        self.contact.setPlaceholderText("name, phone…")
        self.contact.setProperty("help", "A contact's name, phone, email or id; several matches show them all")
        self.conversation = QLineEdit()
        self.conversation.setPlaceholderText("id or contact")
        self.conversation.setProperty("help", "A conversation's id, or a contact's name, phone or email")
        for field in (self.contact, self.conversation):
            field.setToolTip(field.property("help"))
            field.setClearButtonEnabled(True)
            field.setMaximumWidth(150)
        row0: tuple[tuple[QLabel, QWidget], ...] = (
            (QLabel("Dates"), self.preset),
            (QLabel("Agent"), self.agent),
            (QLabel("Team"), self.team),
            (QLabel("Source"), self.source),
        )
        row1: tuple[tuple[QLabel, QWidget], ...] = (
            (QLabel("Workflow"), self.workflow),
            (QLabel("Outcome"), self.outcome),
            (QLabel("Contact"), self.contact),
            (QLabel("Conversation"), self.conversation),
        )
        for row, pairs in enumerate((row0, row1)):
            for column, (label, widget) in enumerate(pairs):
                filters.addWidget(label, row, column * 2, Qt.AlignmentFlag.AlignRight)
                filters.addWidget(widget, row, column * 2 + 1)
        self.reset = QPushButton("Reset filters")
        self.reset.setToolTip("Back to the last 7 days, every agent, team, source, workflow and outcome")
        filters.addWidget(self.reset, 0, 8)
        filters.addWidget(self.range_button, 1, 8)
        filters.setColumnStretch(9, 1)
        layout.addLayout(filters)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.splitter.addWidget(self.table)
        self.charts = QWidget()
        charts = QHBoxLayout(self.charts)
        charts.setContentsMargins(0, 0, 0, 0)
        self.per_day_slot = QVBoxLayout()
        self.per_day_title = QLabel("Assignment changes per day, by source")
        self.per_day_title.setProperty("role", "section")
        self.per_day_slot.addWidget(self.per_day_title)
        self.load_slot = QVBoxLayout()
        self.load_title = QLabel("Open contacts per agent now")
        self.load_title.setProperty("role", "section")
        self.load_slot.addWidget(self.load_title)
        charts.addLayout(self.per_day_slot, 3)
        charts.addLayout(self.load_slot, 2)
        self.splitter.addWidget(self.charts)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
